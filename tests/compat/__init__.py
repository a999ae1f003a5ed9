"""BuildKit's Dockerfile integration suite, ported: catalogue.tsv lists every test function of
moby/buildkit's frontend/dockerfile/dockerfile_*_test.go and where cairn stands on it; the
test_*.py files here are our own ports of those behaviours."""
