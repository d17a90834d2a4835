"""A custom backbone in plain tf.keras, registered for gin (the README example)."""
import maskrcnn_plugin
import tensorflow as tf


@maskrcnn_plugin.register_backbone
def my_net(input_specs=tf.keras.layers.InputSpec(shape=[None, 128, 128, 3]), width=16):
  """Five stride-2 convs; outputs levels '2'..'5' (strides 4..32)."""
  inputs = tf.keras.Input(shape=input_specs.shape[1:])
  x = tf.keras.layers.Conv2D(width, 3, strides=2, padding="same", activation="relu")(inputs)
  features = {}
  for level in range(2, 6):
    x = tf.keras.layers.Conv2D(width * 2**(level - 2), 3, strides=2, padding="same",
                               activation="relu")(x)
    features[str(level)] = x
  model = tf.keras.Model(inputs, features, name="my_net")
  model.output_specs = {level: feature.shape for level, feature in features.items()}
  return model
