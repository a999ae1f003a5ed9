"""`cairn serve`: the Docker Engine API (1.41) on a unix socket, so docker's own clients
drive cairn. http.py reads and writes HTTP/1.1 with bounded sizes; server.py owns the socket
and its threads; router.py maps docker's paths to the handlers in system.py, images.py (and
the resources that follow); shapes.py turns store records into docker's JSON. Request input
is untrusted: names go through the reference parser, and nothing reaches the host except
through the store's and the containers' APIs."""
