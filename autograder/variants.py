"""What ``CNN(filters=...)`` should be, layer by layer, given the student's own ``CNN()``: the notebook
says which sizes come from ``filters`` and which are fixed."""

from __future__ import annotations

from .artifacts import ExportedModel

# A layer as the filters check compares it: kind, weight shape, bias shape (None without a bias), and
# the convolution's stride, padding, dilation and groups.
Layer = tuple[str, tuple[int, ...], tuple[int, ...] | None, str]


def layer_table(graph: ExportedModel) -> list[Layer]:
    """The graph's convolutions and linear layers, in the order its forward pass calls them."""
    state = graph.program.state_dict
    return [(layer["kind"], tuple(state[layer["weight"]].shape),
             tuple(state[layer["bias"]].shape) if layer["bias"] else None,
             ", ".join(f"{key}={layer[key]}" for key in ("stride", "padding", "dilation", "groups") if key in layer))
            for layer in graph.affine_layers()]


def with_filters(default: list[Layer], filters: tuple[int, ...]) -> list[Layer]:
    """The student's default CNN as the notebook says ``filters`` change it: convolution ``i`` outputs
    ``filters[i]`` channels from the previous one's (the first still reads the one input channel), the
    first linear layer reads ``filters[2]`` channels' values instead of the default's, and nothing else
    changes (the 128 hidden units and the 10 outputs are fixed, as are kernels and convolution settings)."""
    convs = [layer for layer in default if layer[0] == "conv"]
    if len(convs) != len(filters):
        return []
    channels, first_linear = [1, *filters], True
    expected: list[Layer] = []
    for kind, weight, bias, settings in default:
        if kind == "conv":
            index = len([layer for layer in expected if layer[0] == "conv"])
            weight = (channels[index + 1], channels[index], *weight[2:])
        elif first_linear:
            first_linear = False
            weight = (weight[0], weight[1] * filters[-1] // max(1, convs[-1][1][0]))
        expected.append((kind, weight, (weight[0],) if bias else None, settings))
    return expected


def describe(layer: Layer) -> str:
    kind, weight, bias, settings = layer
    return (f"a {kind} layer with a {'x'.join(map(str, weight))} weight{'' if bias else ' and no bias'}"
            f"{f' ({settings})' if settings else ''}")
