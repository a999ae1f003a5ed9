"""Images in and out of files: docker-archive and OCI tarballs (save/load), OCI layout directories (read for --build-context, written by -o type=oci), and a rootfs tarball imported as an image."""
