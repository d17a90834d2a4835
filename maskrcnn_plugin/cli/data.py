"""`maskrcnn data ...`: make the shapes dataset, convert COCO, check records.

    maskrcnn data make-shapes --output data/shapes [--train 1000 --val 200]
        [--image-size 128 --seed 0 --workers W] [--classes square,circle,triangle]
    maskrcnn data convert-coco --annotations A.json --images DIR --output PREFIX --shards N
        [--workers W] [--skip-bad] [--no-masks]
    maskrcnn data convert-via --annotations via_region_data.json [--images DIR] --output PREFIX
        --shards N (--class-attribute KEY | --class-name NAME) [--classes A,B] [--workers W]
        [--skip-bad]
    maskrcnn data convert-labelme --input DIR --output PREFIX --shards N [--classes A,B]
        [--workers W] [--skip-bad]
    maskrcnn data check 'data/shapes/val-*.tfrecord' [--num-classes 4] [--render 8 --output DIR]
        [--max-instances N] [--gin_file F --gin_param B --split train|eval]

`data check` exits with status 1 when it finds inconsistent records.
"""

import time

from maskrcnn_plugin.cli.main import add_gin_arguments


def add_commands(subparsers) -> None:
  data = subparsers.add_parser("data", help="make, convert and check datasets")
  commands = data.add_subparsers(dest="data_command", metavar="DATA_COMMAND", required=True)

  shapes = commands.add_parser(
      "make-shapes", help="write the synthetic shapes dataset (TFRecords + COCO JSON + PNGs)")
  shapes.add_argument("--output", required=True, help="output folder, e.g. data/shapes")
  shapes.add_argument("--train", type=int, default=1000, help="training images (default 1000)")
  shapes.add_argument("--val", type=int, default=200, help="validation images (default 200)")
  shapes.add_argument("--image-size", type=int, default=128, help="image side in pixels")
  shapes.add_argument("--seed", type=int, default=0, help="same seed, same bytes")
  shapes.add_argument("--train-shards", type=int, default=4)
  shapes.add_argument("--val-shards", type=int, default=2)
  shapes.add_argument("--workers", type=int, default=None,
                      help="drawing processes (default: CPU count); output is the same")
  shapes.add_argument("--classes", default="square,circle,triangle",
                      help="comma-separated shapes, category ids 1..K in this order, from "
                           "square, circle, triangle, star, hexagon (default: the first three)")
  shapes.add_argument("--no-image-files", action="store_true",
                      help="do not write the PNG files the COCO JSONs name")
  shapes.set_defaults(run=run_make_shapes)

  convert = commands.add_parser(
      "convert-coco", help="COCO JSON + images to sharded TFRecords (Model Garden layout)")
  convert.add_argument("--annotations", required=True, help="COCO instances JSON file")
  convert.add_argument("--images", required=True, help="folder the JSON's file_name is in")
  convert.add_argument("--output", required=True,
                       help="output prefix: writes PREFIX-00000-of-000NN.tfrecord")
  convert.add_argument("--shards", type=int, required=True, help="number of output files")
  convert.add_argument("--workers", type=int, default=None,
                       help="processes (default: CPU count; 1: no subprocesses)")
  convert.add_argument("--skip-bad", action="store_true",
                       help="skip and count missing/unreadable images and bad annotations")
  convert.add_argument("--no-masks", action="store_true", help="write no instance masks")
  convert.set_defaults(run=run_convert_coco)

  via = commands.add_parser(
      "convert-via", help="VIA 2 project or region JSON + images to TFRecords and COCO JSON")
  via.add_argument("--annotations", required=True,
                   help="VIA JSON (project file or exported region data)")
  via.add_argument("--images", default=None,
                   help="folder the JSON's filenames are in (default: the JSON's folder)")
  classes_from = via.add_mutually_exclusive_group(required=True)
  classes_from.add_argument("--class-attribute", metavar="KEY",
                            help="region attribute that holds each region's class")
  classes_from.add_argument("--class-name", metavar="NAME", help="one class for every region")
  _add_conversion_arguments(via)
  via.set_defaults(run=run_convert_via)

  labelme = commands.add_parser(
      "convert-labelme", help="a folder of LabelMe JSON files to TFRecords and COCO JSON")
  labelme.add_argument("--input", required=True,
                       help="folder of LabelMe .json files (searched recursively)")
  _add_conversion_arguments(labelme)
  labelme.set_defaults(run=run_convert_labelme)

  check = commands.add_parser(
      "check", help="decode every record, count, flag inconsistent ones (exit 1), render")
  check.add_argument("pattern", help="TFRecord file pattern (quote the glob)")
  check.add_argument("--num-classes", type=int, default=None,
                     help="classes including background; larger class ids are flagged")
  check.add_argument("--render", type=int, default=0, metavar="K",
                     help="render K records with boxes and masks as PNG files")
  check.add_argument("--output", default="data_check", help="folder for rendered PNG files")
  check.add_argument("--max-instances", type=int, default=None, metavar="N",
                     help="count the images with more than N instances (what "
                          "parsers.maskrcnn.max_num_instances = N would cut)")
  add_gin_arguments(check, required=False)
  check.add_argument("--split", default="train", choices=("train", "eval"),
                     help="with --gin_file/--gin_param: decode with the decoder "
                          "data.input_pipeline gets in this gin scope (default: train); "
                          "without them: data_decoders.tf_example")
  check.set_defaults(run=run_check)


def _add_conversion_arguments(parser) -> None:
  """convert-coco's flags, plus --classes, for the VIA and LabelMe converters."""
  parser.add_argument("--output", required=True,
                      help="output prefix: writes PREFIX-00000-of-000NN.tfrecord, PREFIX.json "
                           "(COCO JSON of what was written) and PREFIX_classes.json")
  parser.add_argument("--shards", type=int, required=True, help="number of output files")
  parser.add_argument("--classes", default=None, metavar="A,B,...",
                      help="class names in category-id order 1..K (default: sorted names "
                           "found); give the same list for every split")
  parser.add_argument("--workers", type=int, default=None,
                      help="processes (default: CPU count; 1: no subprocesses)")
  parser.add_argument("--skip-bad", action="store_true",
                      help="skip and count missing/unreadable images and bad regions")


def _classes(args):
  return [name.strip() for name in args.classes.split(",") if name.strip()] \
      if args.classes else None


def run_make_shapes(args) -> int:
  from maskrcnn_plugin.data import shapes  # pylint: disable=import-outside-toplevel
  from maskrcnn_plugin.errors import UserError  # pylint: disable=import-outside-toplevel
  classes = tuple(name.strip() for name in args.classes.split(",") if name.strip())
  try:
    shapes.categories(classes)
  except ValueError as error:
    raise UserError(f"--classes: {error}") from error
  start = time.perf_counter()
  summaries = shapes.write_shapes_dataset(
      args.output, num_train=args.train, num_val=args.val, image_size=args.image_size,
      seed=args.seed, train_shards=args.train_shards, val_shards=args.val_shards,
      write_images=not args.no_image_files, workers=args.workers, classes=classes)
  seconds = time.perf_counter() - start
  total = sum(s["images"] for s in summaries)
  for s in summaries:
    print(f"{s['split']}: {s['images']} images, {s['instances']} instances, "
          f"{len(s['tfrecords'])} TFRecord files, {s['annotations']}")
  print(f"wrote {total} images to {args.output} in {seconds:.1f} s "
        f"({total / max(seconds, 1e-9):.0f} images/s)")
  return 0


def run_convert_coco(args) -> int:
  from maskrcnn_plugin.data import convert_coco  # pylint: disable=import-outside-toplevel
  summary = convert_coco.convert_coco(
      args.annotations, args.images, args.output, args.shards, workers=args.workers,
      skip_bad=args.skip_bad, include_masks=not args.no_masks)
  print_conversion(summary, args)
  return 0


def run_convert_via(args) -> int:
  # pylint: disable=import-outside-toplevel
  import os
  from maskrcnn_plugin.data import convert_coco, via
  image_dir = args.images or os.path.dirname(os.path.abspath(args.annotations))
  index, skipped_images = via.to_coco(
      args.annotations, image_dir, class_attribute=args.class_attribute,
      class_name=args.class_name, classes=_classes(args), skip_bad=args.skip_bad)
  summary = convert_coco.convert_built(
      index, image_dir, args.output, args.shards, skipped_images=skipped_images,
      workers=args.workers, skip_bad=args.skip_bad)
  print_conversion(summary, args)
  return 0


def run_convert_labelme(args) -> int:
  from maskrcnn_plugin.data import convert_coco, labelme  # pylint: disable=import-outside-toplevel
  index = labelme.to_coco(args.input, classes=_classes(args))
  summary = convert_coco.convert_built(index, args.input, args.output, args.shards,
                                       workers=args.workers, skip_bad=args.skip_bad)
  print_conversion(summary, args)
  return 0


def print_conversion(summary, args) -> None:
  """Prints what a converter wrote and what it skipped, by reason."""
  print(f"wrote {summary.images} images, {summary.instances} instances to "
        f"{len(summary.files)} files {args.output}-*-of-{args.shards:05d}.tfrecord")
  for path in (summary.coco_file, summary.classes_file):
    if path:
      print(f"wrote {path}")
  for label, skipped in (("images", summary.skipped_images),
                         ("annotations", summary.skipped_annotations)):
    if skipped:
      print(f"skipped {len(skipped)} {label}:")
      for message in skipped[:20]:
        print(f"  {message}")
      if len(skipped) > 20:
        print(f"  ... and {len(skipped) - 20} more")
  if summary.skipped.by_reason:
    print("skipped annotations by reason:")
    for reason, count in sorted(summary.skipped.by_reason.items()):
      print(f"  {reason}: {count}")


def run_check(args) -> int:
  # pylint: disable=import-outside-toplevel
  from maskrcnn_plugin.data import check
  from maskrcnn_plugin.gin_config import parse_gin
  decoder = None
  if args.gin_file or args.gin_param:
    parse_gin(args.gin_file, args.gin_param)
    decoder = check.configured_decoder(args.split)
  report = check.check_records(args.pattern, num_classes=args.num_classes,
                               render_count=args.render, output_dir=args.output,
                               max_instances=args.max_instances, decoder=decoder)
  print("\n".join(report.lines()))
  return 1 if report.problems else 0
