# Fuzz targets are added here by the layers' authors.
