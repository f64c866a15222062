int tessera_jpeg_dummy(void) { return 0; }
