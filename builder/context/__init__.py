"""What a build reads its files from: the build context directory (and its .dockerignore), a tar context on stdin, the source paths of COPY/ADD, and merged views of a stage's layers."""
