# Fuzz targets are added here by the layers' authors.
medassist_add_fuzzer(gguf_fuzz SOURCE gguf_fuzz.cc LIBS medassist_formats)
