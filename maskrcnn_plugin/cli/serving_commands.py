"""`maskrcnn export`, `maskrcnn predict` and `maskrcnn evaluate-results`.

    maskrcnn export --model_dir=runs/shapes --output=exported/shapes
    maskrcnn export --model_dir=runs/shapes --output=exported/shapes.onnx --format=onnx
    maskrcnn predict --saved_model=exported/shapes --images='photos/*.jpg' --output=out
    maskrcnn predict --onnx=exported/shapes.onnx --images='photos/*.jpg' --output=out
    maskrcnn predict --model_dir=runs/shapes --images='val/*.png' --output=out \\
        --annotations=val.json --batch_size=8
    maskrcnn evaluate-results --annotations=val.json --results=out/coco_results.json
"""

import argparse
import json
import os
import time

INPUT_TYPE_HELP = ("what the serving_default signature takes: image_tensor = uint8 "
                   "[batch, height, width, 3] pixels of any size; encoded_image = JPEG/PNG/GIF/BMP "
                   "file bytes [batch]; tf_example = serialized tf.Examples [batch] with "
                   "image/encoded (default: image_tensor)")


def add_commands(subparsers) -> None:
  export = subparsers.add_parser(
      "export", help="write a SavedModel (serving_default) from a training folder",
      description="Rebuild the model of a training folder from its config.gin, read a "
                  "checkpoint and write a SavedModel whose serving_default signature returns "
                  "num_detections, detection_boxes (ymin, xmin, ymax, xmax in pixels of the "
                  "input image), detection_classes, detection_scores and detection_masks "
                  "[batch, max_detections, height, width]. The run's gin files and "
                  "export_info.json are stored in OUTPUT/assets/.")
  export.add_argument("--model_dir", "--model-dir", required=True, metavar="DIR",
                      help="training folder (config.gin and checkpoints)")
  export.add_argument("--checkpoint", metavar="PATH",
                      help="checkpoint prefix (DIR/ckpt-1000) or folder (default: newest in "
                           "--model_dir)")
  export.add_argument("--output", required=True, metavar="PATH",
                      help="SavedModel folder, or .onnx file with --format=onnx")
  export.add_argument("--format", default="saved_model", choices=("saved_model", "onnx"),
                      help="saved_model (default) or onnx: an ONNX file through tf2onnx taking "
                           "uint8 images [batch, height, width, 3] padded to one size and "
                           "image_sizes int32 [batch, 2]; needs pip install "
                           "\"maskrcnn-plugin[onnx]\"")
  export.add_argument("--opset", type=_positive_int, default=None, metavar="N",
                      help="with --format=onnx: the ONNX opset (default: 17)")
  export.add_argument("--input_type", "--input-type", default="image_tensor",
                      choices=("image_tensor", "encoded_image", "tf_example"),
                      help=INPUT_TYPE_HELP)
  export.add_argument("--batch_size", "--batch-size", type=_positive_int, metavar="N",
                      help="fixed images per call (default: any number)")
  export.add_argument("--mask_output", "--mask-output", default="binary",
                      choices=("binary", "probabilities"),
                      help="detection_masks as uint8 0/1 (threshold 0.5, as the COCO evaluator) "
                           "or float32 probabilities (default: binary)")
  export.add_argument("--precision", default="float32",
                      choices=("float32", "mixed_bfloat16", "mixed_float16", "auto"),
                      help="Keras policy of the exported model's convs, fcs and batch norm "
                           "(box math and outputs stay float32): float32 (default), "
                           "mixed_bfloat16 (CPUs with AMX or AVX512_BF16), mixed_float16 "
                           "(GPUs of compute capability >= 7.0) or auto (the fast one of this "
                           "machine, as runtime.mixed_precision = 'auto'); SavedModel only")
  export.add_argument("--warmup", action="store_true",
                      help="write TensorFlow Serving warm-up requests (one call of each "
                           "signature on gray images) to assets.extra/"
                           "tf_serving_warmup_requests, so TF Serving pays the first-call cost "
                           "when it loads the model, not on the first request; SavedModel only")
  export.add_argument("--overwrite", action="store_true",
                      help="replace an existing SavedModel in --output")
  export.set_defaults(run=run_export)

  predict = subparsers.add_parser(
      "predict", help="COCO results JSON and pictures of detections for image files",
      description="Run a SavedModel or a training folder's model on image files of any size. "
                  "Writes OUTPUT/coco_results.json (boxes [x, y, width, height] and RLE masks, "
                  "every detection) and OUTPUT/<image name>.png with masks, boxes, class names "
                  "and scores drawn. Unreadable files are reported and skipped.")
  source = predict.add_mutually_exclusive_group(required=True)
  source.add_argument("--saved_model", "--saved-model", metavar="DIR",
                      help="SavedModel written by `maskrcnn export`")
  source.add_argument("--model_dir", "--model-dir", metavar="DIR",
                      help="training folder (config.gin and checkpoints)")
  source.add_argument("--onnx", metavar="FILE",
                      help="ONNX file written by `maskrcnn export --format=onnx`, run with "
                           "ONNX Runtime (pip install \"maskrcnn-plugin[onnx]\")")
  predict.add_argument("--checkpoint", metavar="PATH",
                       help="with --model_dir: checkpoint prefix or folder (default: newest)")
  predict.add_argument("--images", required=True, metavar="GLOB",
                       help="image files, e.g. 'photos/*.jpg' or 'data/**/*.png' (quote it)")
  predict.add_argument("--output", required=True, metavar="DIR",
                       help="folder for coco_results.json and the pictures")
  predict.add_argument("--score_threshold", "--score-threshold", type=float, default=0.5,
                       metavar="T", help="draw detections scoring above T (default: 0.5); the "
                                         "results JSON keeps every detection")
  predict.add_argument("--batch_size", "--batch-size", type=_positive_int, metavar="N",
                       help="images per model call, of any sizes (default: the SavedModel's "
                            "fixed batch size, or 1)")
  predict.add_argument("--annotations", metavar="FILE",
                       help="COCO annotation JSON: image ids by file name and class names "
                            "(default: ids from file names, classes drawn as numbers)")
  predict.set_defaults(run=run_predict)

  evaluate = subparsers.add_parser(
      "evaluate-results", help="COCO box and mask AP of a results JSON",
      description="Score a COCO results file with pycocotools as the training evaluator does "
                  "(metric names AP, AP50, ..., ARl and mask_AP, ...). Every image of the "
                  "annotation file counts.")
  evaluate.add_argument("--annotations", required=True, metavar="FILE",
                        help="COCO annotation JSON (ground truth)")
  evaluate.add_argument("--results", required=True, metavar="FILE",
                        help="COCO results JSON, e.g. from `maskrcnn predict`")
  evaluate.add_argument("--json", action="store_true", help="print the metrics as JSON")
  evaluate.set_defaults(run=run_evaluate_results)


def run_export(args) -> int:
  # pylint: disable=import-outside-toplevel
  from maskrcnn_plugin.errors import UserError
  from maskrcnn_plugin.serving.detection import DetectionExportModule
  from maskrcnn_plugin.serving.export import check_output_dir, export_saved_model
  from maskrcnn_plugin.serving.restore import restore_run

  if args.format == "onnx":
    from maskrcnn_plugin.serving import onnx_export
    if args.input_type != "image_tensor":
      raise UserError(f"--format=onnx takes image tensors only, not --input_type="
                      f"{args.input_type}: ONNX has no image decoding; decode images before "
                      "calling the model (as `maskrcnn predict --onnx` does).")
    if args.precision != "float32":
      raise UserError(f"--precision={args.precision} applies to SavedModels; the ONNX export "
                      "is float32 (ONNX Runtime picks its own kernels).")
    if args.warmup:
      raise UserError("--warmup writes TensorFlow Serving warm-up requests into a SavedModel; "
                      "ONNX Runtime has no warm-up file (call the model once after loading).")
    onnx_export.check_output_file(args.output, overwrite=args.overwrite)
    onnx_export.import_extra("tf2onnx")  # before the slow model build
  elif args.opset is not None:
    raise UserError("--opset applies to --format=onnx only.")
  else:
    check_output_dir(args.output, overwrite=args.overwrite)  # before the slow model build
  precision = args.precision
  if precision == "auto":
    from maskrcnn_plugin.training.runtime import auto_precision
    precision = auto_precision()[0]
  run = restore_run(args.model_dir, args.checkpoint, precision=precision)
  module = DetectionExportModule(run.model, image_size=run.image_size, batch_size=args.batch_size,
                                 input_type=args.input_type, mask_output=args.mask_output)
  summary = (f"batch {args.batch_size or 'any'}, masks {args.mask_output}, {precision}, "
             f"resized to fit {run.image_size[0]}x{run.image_size[1]}")
  if args.format == "onnx":
    opset = args.opset or onnx_export.DEFAULT_OPSET
    seconds = onnx_export.export_onnx(module, args.output, opset=opset)
    print(f"Exported {run.checkpoint} to ONNX {args.output} (opset {opset}, inputs: images "
          f"padded to one size and image_sizes, {summary}; converted in {seconds:.0f} s and "
          "checked in ONNX Runtime)")
    return 0
  output = export_saved_model(module, args.output, config_files=run.config_files,
                              info={"checkpoint": os.path.abspath(run.checkpoint),
                                    "precision": precision},
                              overwrite=args.overwrite)
  warmup = ""
  if args.warmup:
    from maskrcnn_plugin.serving.warmup import write_warmup_requests
    write_warmup_requests(output, module)
    warmup = "; TF Serving warm-up requests in assets.extra/"
  print(f"Exported {run.checkpoint} to SavedModel {output} (serving_default: "
        f"{args.input_type}, {summary}{warmup})")
  return 0


def run_predict(args) -> int:
  start = time.perf_counter()
  # pylint: disable=import-outside-toplevel
  from maskrcnn_plugin.data import class_names
  from maskrcnn_plugin.serving import coco_results
  from maskrcnn_plugin.serving.predict import find_images, predict_images
  from maskrcnn_plugin.serving.predictor import Predictor
  import_seconds = time.perf_counter() - start

  paths = find_images(args.images)
  annotations = coco_results.AnnotationIndex(args.annotations) if args.annotations else None
  if args.onnx:
    predictor = Predictor.from_onnx(args.onnx, args.batch_size or 1)
  elif args.saved_model:
    predictor = Predictor.from_saved_model(args.saved_model, args.batch_size)
  else:
    predictor = Predictor.from_model_dir(args.model_dir, args.checkpoint,
                                         batch_size=args.batch_size or 1)
  summary = predict_images(predictor, paths, args.output, score_threshold=args.score_threshold,
                           annotations=annotations,
                           category_names=class_names.for_model(args.saved_model or
                                                                args.model_dir))
  print(summary.final_line())
  print(f"Time: imports {import_seconds:.2f} s, model load {predictor.load_seconds:.2f} s, "
        f"batch {predictor.batch_size}: {summary.timing_line()}")
  return 0


def run_evaluate_results(args) -> int:
  # pylint: disable=import-outside-toplevel
  from maskrcnn_plugin.serving import coco_results

  coco_results.load_json(args.annotations, "Annotation file")
  results = coco_results.load_json(args.results, "Results file")
  metrics = coco_results.evaluate_results(args.annotations, results)
  print(json.dumps(metrics, indent=2) if args.json else coco_results.format_metrics(metrics))
  return 0


def _positive_int(text: str) -> int:
  value = int(text)
  if value < 1:
    raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
  return value
