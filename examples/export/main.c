/* digitcnn-export: converts between this library's model files and ONNX.
 *
 *   digitcnn-export [--opset N] MODEL.dcnn MODEL.onnx     export (docs/onnx.md)
 *   digitcnn-export --import MODEL.onnx MODEL.dcnn        import
 *
 * Exit statuses as in docs/cli.md: 0 done, 1 a file could not be read,
 * converted or written (the library's message on stderr), 2 bad command line. */
#include <stdio.h>
#include <stdlib.h>

#include "../common/args.h"
#include "../common/support.h"

static void usage(FILE *out) {
  fprintf(out, "usage: digitcnn-export [--opset N] MODEL.dcnn MODEL.onnx\n"
               "       digitcnn-export --import MODEL.onnx MODEL.dcnn\n"
               "  Exports a model saved by dcnn_model_save to ONNX (IR 7, opset 13 by default), with its\n"
               "  metadata (preprocessing, class names) in metadata_props; or, with --import, reads an ONNX\n"
               "  model made of the operators docs/onnx.md lists (e.g. a torch.onnx.export of the paper\n"
               "  CNN) and saves it as a model file.\n"
               "  --opset N   ONNX opset to export, 10 to 17 (default 13; 10 for OpenCV 4.6 and older)\n"
               "  --import    convert ONNX to a model file instead\n");
}

int main(int argc, char **argv) {
  static const example_option options[] = {{"--opset", 1}, {"--import", 0}, {NULL, 0}};
  const char *files[2] = {NULL, NULL};
  int count = 0, import = 0, opset_given = 0;
  dcnn_onnx_export_options o = DCNN_ONNX_EXPORT_OPTIONS_INIT;
  example_args args = example_args_start(argc, argv, options, usage);
  while (example_args_next(&args)) {
    if (example_args_option(&args, "--opset")) {
      o.opset = (int32_t)example_args_int(&args, DCNN_ONNX_MIN_OPSET, DCNN_ONNX_MAX_OPSET);
      opset_given = 1;
    }
    else if (example_args_flag(&args, "--import")) import = 1;
    else if (example_args_positional(&args) && count < 2) files[count++] = args.positional;
    else example_args_unknown(&args);
  }
  if (count != 2) {
    fprintf(stderr, "%s: needs an input and an output file (see --help)\n", example_program_name());
    return EXAMPLE_EXIT_USAGE;
  }
  if (import && opset_given) { /* an import keeps the file's opset: an --opset there would be ignored silently */
    fprintf(stderr, "%s: --opset is for exports; --import reads the opset the file has\n", example_program_name());
    return EXAMPLE_EXIT_USAGE;
  }
  if (!dcnn_onnx_available()) {
    fprintf(stderr, "%s: this libdigitcnn was built without ONNX support\n", example_program_name());
    return EXAMPLE_EXIT_FAILURE;
  }
  if (example_same_file(files[0], files[1])) { /* the output is written over the input it reads */
    fprintf(stderr, "%s: %s is both the input and the output; give another output file\n", example_program_name(),
            files[1]);
    return EXAMPLE_EXIT_USAGE;
  }
  dcnn_model *model = NULL;
  dcnn_status s = import ? dcnn_model_import_onnx(NULL, files[0], &model) : dcnn_model_load(NULL, files[0], &model);
  if (s == DCNN_OK) s = import ? dcnn_model_save(model, files[1]) : dcnn_model_export_onnx(model, files[1], &o);
  if (s != DCNN_OK) fprintf(stderr, "%s: %s\n", example_program_name(), dcnn_last_error());
  dcnn_model_destroy(model);
  return s == DCNN_OK ? EXAMPLE_EXIT_OK : EXAMPLE_EXIT_FAILURE;
}
