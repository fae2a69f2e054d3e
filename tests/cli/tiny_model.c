/* Writes what the command-line test classifies: an untrained paper CNN (1 x 28
 * x 28 -> 10) whose class names need JSON escaping, and a 30 x 40 RGB PNG.
 *
 *   cli_tiny_model MODEL.dcnn IMAGE.png */
#include <stdio.h>

#include <digitcnn.h>

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: cli_tiny_model MODEL.dcnn IMAGE.png\n");
    return 2;
  }
  dcnn_model *model = NULL;
  /* Names with a quote, a backslash, a tab and a non-ASCII letter ("\xc3\xa9" is e-acute). */
  dcnn_status status = dcnn_zoo_paper_cnn(NULL, NULL, &model);
  if (status == DCNN_OK)
    status = dcnn_model_set_metadata(model, "classes", "zero,one,two,three,four,five,six,\"seven\",ei\\ght,n\tin\xc3\xa9");
  if (status == DCNN_OK) status = dcnn_model_save(model, argv[1]);
  static unsigned char pixels[30 * 40 * 3];
  for (int i = 0; i < (int)sizeof pixels; ++i) pixels[i] = (unsigned char)(i * 7);
  if (status == DCNN_OK) status = dcnn_image_write_png(argv[2], 30, 40, 3, pixels);
  dcnn_model_destroy(model);
  if (status != DCNN_OK) {
    fprintf(stderr, "cli_tiny_model: %s\n", dcnn_last_error());
    return 1;
  }
  return 0;
}
