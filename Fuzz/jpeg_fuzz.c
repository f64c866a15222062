// libFuzzer harness of the JPEG side of Tessera's C code (Sources/CJPEG): decoding with and
// without DCT scaling (libjpeg-turbo under our setjmp error handling, CMYK conversion, the
// hand-written EXIF orientation reader), then re-encoding what decoded (the thumbnail path).
// Built and run by scripts/fuzz.sh jpeg.
#include <stdint.h>
#include <stdlib.h>
#include "tessera_jpeg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    tessera_jpeg_image image;
    // 4 Mpx bound: what the fuzzer can afford per input (the product's bound is 300 Mpx).
    if (tessera_jpeg_decode(data, size, 0, 4000000, &image) == TESSERA_JPEG_OK) {
        unsigned char *out = NULL;
        unsigned long n = 0;
        char message[256];
        tessera_jpeg_encode(image.pixels, image.width, image.height, 75, &out, &n, message);
        free(out);
    }
    tessera_jpeg_free(&image);
    tessera_jpeg_decode(data, size, 64, 4000000, &image);
    tessera_jpeg_free(&image);
    return 0;
}
