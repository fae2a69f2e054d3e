/* Writes what the command-line test classifies: an untrained paper CNN (1 x 28
 * x 28 -> 10) whose class names need JSON escaping, and a 30 x 40 RGB PNG.
 * With --standardize the model's recorded preprocessing also standardises
 * (mean 0.45, std 0.2), as a recipe with standardize=1 records it. With
 * --classes20 the network has 20 outputs (and no class names); with
 * --empty-name the second class's name is empty ("zero,,two,...").
 *
 *   cli_tiny_model [--standardize | --classes20 | --empty-name] MODEL.dcnn IMAGE.png */
#include <string.h>

#include <stdio.h>

#include <digitcnn.h>

int main(int argc, char **argv) {
  const int standardize = argc == 4 && strcmp(argv[1], "--standardize") == 0;
  const int twenty = argc == 4 && strcmp(argv[1], "--classes20") == 0;
  const int empty_name = argc == 4 && strcmp(argv[1], "--empty-name") == 0;
  if (argc != 3 + standardize + twenty + empty_name) {
    fprintf(stderr, "usage: cli_tiny_model [--standardize | --classes20 | --empty-name] MODEL.dcnn IMAGE.png\n");
    return 2;
  }
  argv += standardize + twenty + empty_name;
  dcnn_model *model = NULL;
  dcnn_zoo_options options = DCNN_ZOO_OPTIONS_INIT;
  if (twenty) options.classes = 20;
  dcnn_status status = dcnn_zoo_paper_cnn(NULL, &options, &model);
  /* Names with a quote, a backslash, a tab and a non-ASCII letter ("\xc3\xa9" is e-acute). */
  if (status == DCNN_OK && empty_name)
    status = dcnn_model_set_metadata(model, "classes", "zero,,two,three,four,five,six,seven,eight,nine");
  else if (status == DCNN_OK && !twenty)
    status = dcnn_model_set_metadata(model, "classes", "zero,one,two,three,four,five,six,\"seven\",ei\\ght,n\tin\xc3\xa9");
  if (status == DCNN_OK && standardize) { /* the paper's preprocessing, standardised, recorded in the model */
    dcnn_pipeline *p = NULL;
    const float mean = 0.45f, std = 0.2f;
    char text[1024];
    status = dcnn_pipeline_create(NULL, &p);
    if (status == DCNN_OK) status = dcnn_pipeline_set_paper_defaults(p);
    if (status == DCNN_OK) status = dcnn_pipeline_set_standardization(p, 1, &mean, &std);
    if (status == DCNN_OK) status = dcnn_pipeline_describe(p, text, sizeof text);
    if (status == DCNN_OK) status = dcnn_model_set_metadata(model, "preprocessing", text);
    dcnn_pipeline_destroy(p);
  }
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
