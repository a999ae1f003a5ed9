"""The image model: OCI documents, digests, references, image config and files, merged views, layouts."""
