"""Kill-and-resume check: train, SIGKILL at random points, rerun the same command, verify.

    python scripts/kill_resume.py --model_dir=/tmp/kill_resume \\
        --gin_file=maskrcnn_shapes_r18_cpu --gin_param="SHAPES_DIR = 'data/shapes'" \\
        --gin_param="TRAIN_STEPS = 200" --gin_param="schedule.checkpoint_interval = 10" \\
        --kills=6 --write_kills=2 --seed=0 [--reference]

Every attempt runs `maskrcnn train --mode=train` with the same arguments in a
child process. A write kill makes the child SIGKILL itself in the middle of a
checkpoint write (its shards written, not yet merged into the final files);
the other kills come from outside, at a random moment after the child reports
a random training step. The last attempt runs to the end. Checked:

  * after every kill, the checkpoint model_dir/checkpoint names loads;
  * the run ends at exactly schedule.train_steps;
  * every checkpoint left behind loads, and in each the optimizer's step
    count equals the global step: neither restarted at a resume;
  * with --reference, a run without kills in MODEL_DIR_reference, and the
    largest difference of the final weights (zero only if training is
    deterministic, which it is not: see docs/faults.md).

Prints one line per attempt and a summary; exit status 1 when a check fails.
"""

import argparse
import os
import random
import re
import signal
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence

_STEP = re.compile(r"^step (\d+)/(\d+) ")
_RESUMED = re.compile(r"^Resuming from (\S+) \(step (\d+)\)")


def _die_inside_checkpoint_write(number: int) -> None:
  """Makes this process SIGKILL itself while writing checkpoint ckpt-NUMBER.

  TensorFlow writes a checkpoint's shards to PREFIX_temp/ and then merges
  them into PREFIX.index and PREFIX.data-*; the kill comes between the two.
  """
  from tensorflow.python.ops import gen_io_ops  # pylint: disable=import-outside-toplevel
  merge = gen_io_ops.merge_v2_checkpoints

  def merge_or_die(checkpoint_prefixes, destination_prefix, *args, **kwargs):
    prefix = destination_prefix
    if hasattr(prefix, "numpy"):
      prefix = prefix.numpy()
    prefix = prefix.decode() if isinstance(prefix, bytes) else str(prefix)
    if prefix.endswith(f"ckpt-{number}"):
      os.kill(os.getpid(), signal.SIGKILL)
    return merge(checkpoint_prefixes, destination_prefix, *args, **kwargs)

  gen_io_ops.merge_v2_checkpoints = merge_or_die


def train_command(model_dir: str, gin_files: Sequence[str], gin_params: Sequence[str]) -> List[str]:
  """The `maskrcnn train` arguments every attempt uses."""
  return (["train", f"--model_dir={model_dir}", "--mode=train"] +
          [f"--gin_file={f}" for f in gin_files] + [f"--gin_param={p}" for p in gin_params])


def attempt(train_args: Sequence[str], *, die_in_write: Optional[int] = None,
            kill_after_step: Optional[int] = None, delay: float = 0.0,
            env: Optional[Dict[str, str]] = None) -> Dict:
  """Runs one child `maskrcnn train`; kills it as asked. Returns what it did.

  Returns:
    {'exit': status (-9 when killed), 'resumed_from': step or None,
     'steps': [reported steps], 'output': the child's output}.
  """
  command = [sys.executable, os.path.abspath(__file__)]
  if die_in_write is not None:
    command.append(f"--child_die_in_write={die_in_write}")
  command += ["--child", "--"] + list(train_args)
  child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           env=env)
  lines, steps, resumed = [], [], None
  for line in child.stdout:
    lines.append(line)
    match = _RESUMED.match(line)
    if match:
      resumed = int(match.group(2))
    match = _STEP.match(line)
    if match:
      steps.append(int(match.group(1)))
      if kill_after_step is not None and steps[-1] >= kill_after_step:
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
  child.wait()
  return {"exit": child.returncode, "resumed_from": resumed, "steps": steps,
          "output": "".join(lines)}


def check_checkpoints(model_dir: str) -> List[Dict]:
  """Every checkpoint file set in model_dir: loads, with optimizer steps == global step.

  Raises:
    AssertionError: naming the checkpoint that fails.
  """
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  from maskrcnn_plugin.training import run_dir  # pylint: disable=import-outside-toplevel

  found = []
  for index in sorted(tf.io.gfile.glob(os.path.join(model_dir, "ckpt-*.index")),
                      key=lambda p: int(re.search(r"ckpt-(\d+)", p).group(1))):
    path = index[:-len(".index")]
    reason = run_dir.unreadable(path)
    assert reason is None, f"{path} does not load: {reason}"
    reader = tf.train.load_checkpoint(path)
    step = int(reader.get_tensor("global_step/.ATTRIBUTES/VARIABLE_VALUE"))
    iterations = int(reader.get_tensor("optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE"))
    assert iterations == step, (f"{path}: the optimizer made {iterations} steps but the global "
                                f"step is {step}: its state restarted")
    assert path.endswith(f"ckpt-{step}"), f"{path} holds global step {step}"
    found.append({"path": path, "step": step, "optimizer_steps": iterations})
  return found


def latest_loads(model_dir: str) -> Optional[str]:
  """The checkpoint model_dir/checkpoint names; AssertionError when it does not load."""
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  from maskrcnn_plugin.training import run_dir  # pylint: disable=import-outside-toplevel
  latest = tf.train.latest_checkpoint(model_dir)
  if latest is not None:
    reason = run_dir.unreadable(latest)
    assert reason is None, f"model_dir/checkpoint names {latest}, which does not load: {reason}"
  return latest


def run_with_kills(train_args: Sequence[str], model_dir: str, train_steps: int, plan: Sequence,
                   rng: random.Random, printer=print, checkpoint_every: int = 1) -> List[Dict]:
  """Runs the attempts of `plan` ('write' or 'random' kills), then one to the end.

  A write kill hits one of the next two checkpoints, at multiples of
  `checkpoint_every` (schedule.checkpoint_interval, a multiple of
  schedule.steps_per_loop) or at the last step.

  Raises:
    AssertionError: when a check fails.
  """
  attempts = []
  for kind in list(plan) + ["finish"]:
    start = attempts[-1]["last_checkpoint_step"] if attempts else 0
    options = {}
    if kind != "finish" and start >= train_steps - 1:
      printer(f"attempt {len(attempts) + 1} ({kind}) left out: no step left to kill at")
      continue
    if kind == "write":
      saves = [n for n in range(start + 1, train_steps + 1)
               if n % checkpoint_every == 0 or n == train_steps]
      options["die_in_write"] = rng.choice(saves[:2])
    elif kind == "random":  # after a step: during its checkpoint write or a later step
      # Steps after the first of an attempt take a fraction of a second on the
      # test config: a few are left so that the kill comes before the end.
      options["kill_after_step"] = rng.randint(start + 1, max(start + 1, train_steps - 3))
      options["delay"] = rng.uniform(0.0, 0.2)
    result = attempt(train_args, **options)
    latest = latest_loads(model_dir)
    step = int(re.search(r"ckpt-(\d+)$", latest).group(1)) if latest else 0
    result.update(kind=kind, options=options, last_checkpoint_step=step)
    attempts.append(result)
    printer(f"attempt {len(attempts)} ({kind} {options or ''}): exit {result['exit']}, resumed "
            f"from step {result['resumed_from']}, steps {result['steps'][:1]}..."
            f"{result['steps'][-1:]}, newest loadable checkpoint ckpt-{step}")
    if kind == "finish":
      assert result["exit"] == 0, result["output"][-3000:]
    else:
      assert result["exit"] == -signal.SIGKILL, (
          f"attempt {len(attempts)} was not killed:\n{result['output'][-3000:]}")
    if start:
      assert result["resumed_from"] == start, (
          f"attempt {len(attempts)} resumed from {result['resumed_from']}, not step {start}")
    if result["steps"]:
      assert result["steps"][0] == start + 1, (
          f"attempt {len(attempts)} started at step {result['steps'][0]}, not {start + 1}")
  assert attempts[-1]["steps"][-1] == train_steps, attempts[-1]["steps"]
  assert attempts[-1]["last_checkpoint_step"] == train_steps
  return attempts


def final_weights_difference(model_dir: str, reference_dir: str) -> float:
  """Largest absolute difference of the model's weights in the two newest checkpoints."""
  import numpy as np  # pylint: disable=import-outside-toplevel
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  ours, theirs = (tf.train.load_checkpoint(tf.train.latest_checkpoint(d))
                  for d in (model_dir, reference_dir))
  names = [n for n, _ in tf.train.list_variables(tf.train.latest_checkpoint(model_dir))
           if n.startswith("model/") and n.endswith("VARIABLE_VALUE")]
  return max(float(np.max(np.abs(ours.get_tensor(n) - theirs.get_tensor(n)))) for n in names)


def _schedule(gin_files, gin_params):
  from maskrcnn_plugin import training  # pylint: disable=import-outside-toplevel,unused-import
  from maskrcnn_plugin.gin_config import parse_gin  # pylint: disable=import-outside-toplevel
  from maskrcnn_plugin.training.experiment import Schedule  # pylint: disable=import-outside-toplevel
  parse_gin(gin_files, gin_params)
  return Schedule()


def main(argv: Optional[Sequence[str]] = None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--model_dir", required=False)
  parser.add_argument("--gin_file", action="append", default=[])
  parser.add_argument("--gin_param", action="append", default=[])
  parser.add_argument("--kills", type=int, default=3, help="kills in all (default 3)")
  parser.add_argument("--write_kills", type=int, default=1,
                      help="of which inside a checkpoint write (default 1)")
  parser.add_argument("--seed", type=int, default=0, help="chooses the kill points")
  parser.add_argument("--reference", action="store_true",
                      help="also train without kills and compare the final weights")
  parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
  parser.add_argument("--child_die_in_write", type=int, default=None, help=argparse.SUPPRESS)
  parser.add_argument("train_args", nargs="*", help=argparse.SUPPRESS)
  args = parser.parse_args(argv)
  if args.child:
    if args.child_die_in_write is not None:
      _die_inside_checkpoint_write(args.child_die_in_write)
    from maskrcnn_plugin.cli.main import main as cli_main  # pylint: disable=import-outside-toplevel
    return cli_main(args.train_args)
  if not args.model_dir or not args.gin_file:
    parser.error("--model_dir and --gin_file are required")
  rng = random.Random(args.seed)
  plan = ["write"] * args.write_kills + ["random"] * (args.kills - args.write_kills)
  rng.shuffle(plan)
  train_args = train_command(args.model_dir, args.gin_file, args.gin_param)
  schedule = _schedule(args.gin_file, args.gin_param)
  train_steps = schedule.train_steps
  try:
    run_with_kills(train_args, args.model_dir, train_steps, plan, rng,
                   checkpoint_every=schedule.checkpoint_interval)
    checkpoints = check_checkpoints(args.model_dir)
  except AssertionError as error:
    print(f"FAILED: {error}")
    return 1
  print(f"OK: {len(plan)} kills, final step {train_steps}; {len(checkpoints)} checkpoints left, "
        "all load, optimizer step == global step in each.")
  if args.reference:
    reference_dir = args.model_dir.rstrip("/") + "_reference"
    result = attempt(train_command(reference_dir, args.gin_file, args.gin_param))
    if result["exit"] != 0:
      print(f"FAILED: the reference run failed:\n{result['output'][-3000:]}")
      return 1
    print(f"Largest difference of final weights to an uninterrupted run: "
          f"{final_weights_difference(args.model_dir, reference_dir):.3g}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
