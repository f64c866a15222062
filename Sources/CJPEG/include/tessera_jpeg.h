#ifndef TESSERA_JPEG_H
#define TESSERA_JPEG_H
#include <stddef.h>

/// Status codes of tessera_jpeg_decode.
enum {
    TESSERA_JPEG_OK = 0,
    TESSERA_JPEG_ERR_LIBJPEG = 1,      /* libjpeg reported a fatal error (message set) */
    TESSERA_JPEG_ERR_TRUNCATED = 2,    /* premature end of data */
    TESSERA_JPEG_ERR_CORRUPT = 3,      /* corrupt entropy-coded data (libjpeg warning) */
    TESSERA_JPEG_ERR_TOO_LARGE = 4,    /* dimensions above the caller's pixel limit */
    TESSERA_JPEG_ERR_NOT_JPEG = 5,     /* no SOI marker */
    TESSERA_JPEG_ERR_MEMORY = 6,
    TESSERA_JPEG_ERR_COLORSPACE = 7
};

typedef struct {
    unsigned char *pixels;   /* RGB8, width*height*3, malloc'd; free with tessera_jpeg_free */
    int width;               /* decoded (possibly DCT-scaled) size, before EXIF orientation */
    int height;
    int source_width;        /* size stored in the file */
    int source_height;
    int orientation;         /* EXIF orientation 1..8 (1 when absent) */
    int components;          /* components in the file: 1 gray, 3 YCbCr/RGB, 4 CMYK/YCCK */
    int status;
    char message[256];
} tessera_jpeg_image;

/// Decodes a JPEG held in memory into RGB8. Grayscale and CMYK/YCCK are converted to RGB.
/// `min_long_side` > 0 lets libjpeg downscale in the DCT domain (scale 1/2, 1/4, 1/8) as
/// long as the longer side stays >= min_long_side. `max_pixels` bounds width*height of the
/// file. Never longjmps out: all libjpeg errors become a status and a message.
int tessera_jpeg_decode(const unsigned char *data, size_t size, int min_long_side,
                        long long max_pixels, tessera_jpeg_image *out);

void tessera_jpeg_free(tessera_jpeg_image *image);

/// Encodes RGB8 pixels (width*height*3 bytes) as a baseline JPEG of `quality` (1..100) into a
/// malloc'd buffer (*out, *out_size; free with free()). Returns TESSERA_JPEG_OK or an error
/// status with `message` (256 bytes) set.
int tessera_jpeg_encode(const unsigned char *pixels, int width, int height, int quality,
                        unsigned char **out, unsigned long *out_size, char *message);

#endif
