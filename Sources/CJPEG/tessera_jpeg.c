// libjpeg decoding with setjmp-based error handling: libjpeg's error_exit must not return,
// so it longjmps back here and the failure becomes a status code and a message.
#include "tessera_jpeg.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <jpeglib.h>
#include <jerror.h>

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    int warning_code;      /* first serious warning seen, 0 if none */
} tessera_error_mgr;

static void tessera_error_exit(j_common_ptr cinfo) {
    tessera_error_mgr *err = (tessera_error_mgr *)cinfo->err;
    longjmp(err->jump, 1);
}

static void tessera_emit_message(j_common_ptr cinfo, int msg_level) {
    tessera_error_mgr *err = (tessera_error_mgr *)cinfo->err;
    if (msg_level < 0) {
        int code = err->pub.msg_code;
        /* Extraneous bytes before a marker are common and harmless; anything else
           (premature end, bad Huffman code, corrupt data) means pixels are made up. */
        if (code != JWRN_EXTRANEOUS_DATA && err->warning_code == 0) err->warning_code = code;
        err->pub.num_warnings++;
    }
}

static unsigned read_u16(const unsigned char *p, int le) {
    return le ? (unsigned)(p[0] | (p[1] << 8)) : (unsigned)((p[0] << 8) | p[1]);
}
static unsigned long read_u32(const unsigned char *p, int le) {
    return le ? ((unsigned long)p[0] | ((unsigned long)p[1] << 8) | ((unsigned long)p[2] << 16) | ((unsigned long)p[3] << 24))
              : (((unsigned long)p[0] << 24) | ((unsigned long)p[1] << 16) | ((unsigned long)p[2] << 8) | (unsigned long)p[3]);
}

/* EXIF orientation from an APP1 "Exif\0\0" TIFF block; 1 when absent or malformed. */
static int exif_orientation(const unsigned char *d, unsigned len) {
    if (len < 14 || memcmp(d, "Exif\0\0", 6) != 0) return 1;
    const unsigned char *t = d + 6; unsigned tl = len - 6;
    int le;
    if (t[0] == 'I' && t[1] == 'I') le = 1; else if (t[0] == 'M' && t[1] == 'M') le = 0; else return 1;
    unsigned long ifd = read_u32(t + 4, le);
    if (ifd + 2 > tl) return 1;
    unsigned n = read_u16(t + ifd, le);
    for (unsigned i = 0; i < n; i++) {
        unsigned long e = ifd + 2 + 12ul * i;
        if (e + 12 > tl) return 1;
        if (read_u16(t + e, le) == 0x0112) {
            unsigned v = read_u16(t + e + 8, le);
            return (v >= 1 && v <= 8) ? (int)v : 1;
        }
    }
    return 1;
}

int tessera_jpeg_decode(const unsigned char *data, size_t size, int min_long_side,
                        long long max_pixels, tessera_jpeg_image *out) {
    memset(out, 0, sizeof(*out));
    out->orientation = 1;
    if (size < 4 || data[0] != 0xFF || data[1] != 0xD8) {
        out->status = TESSERA_JPEG_ERR_NOT_JPEG;
        snprintf(out->message, sizeof out->message, "not a JPEG file (no SOI marker)");
        return out->status;
    }
    struct jpeg_decompress_struct cinfo;
    tessera_error_mgr jerr;
    JSAMPARRAY rowbuf = NULL;
    unsigned char * volatile scan = NULL;
    volatile int started = 0;
    cinfo.err = jpeg_std_error(&jerr.pub);
    jerr.pub.error_exit = tessera_error_exit;
    jerr.pub.emit_message = tessera_emit_message;
    jerr.warning_code = 0;
    if (setjmp(jerr.jump)) {
        char buf[JMSG_LENGTH_MAX];
        (*cinfo.err->format_message)((j_common_ptr)&cinfo, buf);
        out->status = TESSERA_JPEG_ERR_LIBJPEG;
        snprintf(out->message, sizeof out->message, "%s", buf);
        free(out->pixels); out->pixels = NULL;
        free(scan);
        jpeg_destroy_decompress(&cinfo);
        (void)started;
        return out->status;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_save_markers(&cinfo, JPEG_APP0 + 1, 0xFFFF);
    jpeg_read_header(&cinfo, TRUE);

    for (jpeg_saved_marker_ptr m = cinfo.marker_list; m; m = m->next) {
        if (m->marker == JPEG_APP0 + 1) { out->orientation = exif_orientation(m->data, m->data_length); break; }
    }
    out->source_width = (int)cinfo.image_width;
    out->source_height = (int)cinfo.image_height;
    out->components = cinfo.num_components;
    if ((long long)cinfo.image_width * (long long)cinfo.image_height > max_pixels) {
        out->status = TESSERA_JPEG_ERR_TOO_LARGE;
        snprintf(out->message, sizeof out->message, "image is %ux%u, above the limit of %lld pixels",
                 cinfo.image_width, cinfo.image_height, max_pixels);
        jpeg_destroy_decompress(&cinfo);
        return out->status;
    }
    int cmyk = (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK);
    cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    if (min_long_side > 0) {
        unsigned long_side = cinfo.image_width > cinfo.image_height ? cinfo.image_width : cinfo.image_height;
        int denom = 1;
        while (denom < 8 && long_side / (unsigned)(denom * 2) >= (unsigned)min_long_side) denom *= 2;
        cinfo.scale_num = 1;
        cinfo.scale_denom = (unsigned)denom;
    }
    cinfo.dct_method = JDCT_ISLOW;
    jpeg_start_decompress(&cinfo);
    started = 1;
    int w = (int)cinfo.output_width, h = (int)cinfo.output_height, nc = cinfo.output_components;
    if ((cmyk && nc != 4) || (!cmyk && nc != 3)) {
        out->status = TESSERA_JPEG_ERR_COLORSPACE;
        snprintf(out->message, sizeof out->message, "unsupported colour space (%d components)", nc);
        jpeg_destroy_decompress(&cinfo);
        return out->status;
    }
    out->pixels = (unsigned char *)malloc((size_t)w * (size_t)h * 3);
    scan = (unsigned char *)malloc((size_t)w * (size_t)nc);
    if (!out->pixels || !scan) {
        free(out->pixels); out->pixels = NULL; free(scan);
        out->status = TESSERA_JPEG_ERR_MEMORY;
        snprintf(out->message, sizeof out->message, "out of memory for %dx%d pixels", w, h);
        jpeg_destroy_decompress(&cinfo);
        return out->status;
    }
    JSAMPROW row = (JSAMPROW)scan;
    rowbuf = &row;
    while (cinfo.output_scanline < cinfo.output_height) {
        int y = (int)cinfo.output_scanline;
        jpeg_read_scanlines(&cinfo, rowbuf, 1);
        unsigned char *dst = out->pixels + (size_t)y * (size_t)w * 3;
        if (!cmyk) {
            memcpy(dst, scan, (size_t)w * 3);
        } else {
            /* Adobe writes CMYK inverted (0 = full ink), which libjpeg passes through. */
            int inverted = cinfo.saw_Adobe_marker;
            for (int x = 0; x < w; x++) {
                int c = scan[4 * x], m = scan[4 * x + 1], yy = scan[4 * x + 2], k = scan[4 * x + 3];
                if (!inverted) { c = 255 - c; m = 255 - m; yy = 255 - yy; k = 255 - k; }
                dst[3 * x] = (unsigned char)((c * k + 127) / 255);
                dst[3 * x + 1] = (unsigned char)((m * k + 127) / 255);
                dst[3 * x + 2] = (unsigned char)((yy * k + 127) / 255);
            }
        }
    }
    jpeg_finish_decompress(&cinfo);
    free(scan);
    out->width = w;
    out->height = h;
    if (jerr.warning_code != 0) {
        char buf[JMSG_LENGTH_MAX];
        jerr.pub.msg_code = jerr.warning_code;
        (*jerr.pub.format_message)((j_common_ptr)&cinfo, buf);
        out->status = jerr.warning_code == JWRN_JPEG_EOF ? TESSERA_JPEG_ERR_TRUNCATED : TESSERA_JPEG_ERR_CORRUPT;
        snprintf(out->message, sizeof out->message, "%s", buf);
        free(out->pixels); out->pixels = NULL;
    }
    jpeg_destroy_decompress(&cinfo);
    return out->status;
}

void tessera_jpeg_free(tessera_jpeg_image *image) {
    free(image->pixels);
    image->pixels = NULL;
}

int tessera_jpeg_encode(const unsigned char *pixels, int width, int height, int quality,
                        unsigned char **out, unsigned long *out_size, char *message) {
    struct jpeg_compress_struct cinfo;
    tessera_error_mgr jerr;
    *out = NULL;
    *out_size = 0;
    message[0] = 0;
    if (width <= 0 || height <= 0 || width > 65500 || height > 65500) {
        snprintf(message, 256, "cannot encode a %dx%d image", width, height);
        return TESSERA_JPEG_ERR_TOO_LARGE;
    }
    cinfo.err = jpeg_std_error(&jerr.pub);
    jerr.pub.error_exit = tessera_error_exit;
    jerr.pub.emit_message = tessera_emit_message;
    jerr.warning_code = 0;
    if (setjmp(jerr.jump)) {
        (*cinfo.err->format_message)((j_common_ptr)&cinfo, message);
        jpeg_destroy_compress(&cinfo);
        free(*out);
        *out = NULL;
        *out_size = 0;
        return TESSERA_JPEG_ERR_LIBJPEG;
    }
    jpeg_create_compress(&cinfo);
    jpeg_mem_dest(&cinfo, out, out_size);
    cinfo.image_width = (JDIMENSION)width;
    cinfo.image_height = (JDIMENSION)height;
    cinfo.input_components = 3;
    cinfo.in_color_space = JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality < 1 ? 1 : (quality > 100 ? 100 : quality), TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(pixels + (size_t)cinfo.next_scanline * (size_t)width * 3);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    return TESSERA_JPEG_OK;
}
