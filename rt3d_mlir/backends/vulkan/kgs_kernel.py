"""Mechanism: one ``sparse3d.kgs_conv3d`` as a ``gpu.launch`` that reads the compact weights from buffers.

The op becomes a call of a private function of tensors (so one-shot bufferization
sees exactly what the kernel reads; the function is inlined after bufferization)::

  func.func private @kgs_conv3d_gpu_0(%input, %values, %offsets, %positions, %bases, %init) -> tensor<...> {
    <to_buffer of each operand, collapsed to 1-D; a fresh output buffer>
    gpu.launch blocks(output tiles, filter blocks, batch) threads(workgroup_size) {
      <per thread: outputs_per_thread positions x ceil(g_m/4) vec4 accumulators>
      scf.for channel group -> scf.for kept position -> scf.for channel of the group:
        load 4 filters' weights (vector.from_elements), per position: load input, broadcast, vector.fma
      out = init + accumulators (lanes past a tail block's filters are not stored); init is read as
      the bias or the fill value when the conv's init is a bias broadcast or a fill
    }
  }

Index tables travel as i32 buffers (``bases[g]``: where group g's weights start in
``values``, computed here from the constant tables), so the shader's size does not
depend on the number of kept positions. Padding is checked per kept position, not
materialised. The text is generated for static sizes and parsed; it holds only
upstream dialects (func, bufferization, memref, gpu, scf, arith, vector).
"""

from __future__ import annotations

import numpy as np

from rt3d_mlir.dialect.geometry import ConvGeometry
from rt3d_mlir.errors import UserError
from rt3d_mlir.targets.gpu_strategy import VECTOR_WIDTH, GpuSchedule, filter_vectors, output_positions, workgroup_count


def value_bases(geometry: ConvGeometry, group_offsets: np.ndarray) -> np.ndarray:
    """Where each group's weights start in ``values`` (the layout of docs/sparse3d-dialect.md)."""
    grid_m, grid_n = geometry.group_grid
    gm, gn = geometry.group_shape.filters, geometry.group_shape.channels
    filters = np.minimum(gm, geometry.out_channels - np.arange(grid_m) * gm)
    channels = np.minimum(gn, geometry.in_channels - np.arange(grid_n) * gn)
    kept = np.diff(group_offsets.astype(np.int64))
    sizes = kept * np.repeat(filters, grid_n) * np.tile(channels, grid_m)
    return np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int32)


class _Text:
    """Builds MLIR text with fresh SSA names and memoised index constants."""

    def __init__(self) -> None:
        self.prelude: list[str] = []  # index constants, at the function's top so they dominate every use
        self.lines: list[str] = []
        self.count = 0
        self.constants: dict[int, str] = {}

    def fresh(self, hint: str) -> str:
        self.count += 1
        return f"%{hint}{self.count}"

    def emit(self, line: str) -> None:
        self.lines.append(line)

    def op(self, hint: str, text: str) -> str:
        name = self.fresh(hint)
        self.emit(f"{name} = {text}")
        return name

    def index(self, value: int) -> str:
        if value not in self.constants:
            self.constants[value] = f"%c{value}".replace("-", "m")
            self.prelude.append(f"{self.constants[value]} = arith.constant {value} : index")
        return self.constants[value]

    def binary(self, op: str, a: str, b: str | int) -> str:
        return self.op("i", f"arith.{op} {a}, {self.index(b) if isinstance(b, int) else b} : index")


def kernel_function(
    name: str, geometry: ConvGeometry, schedule: GpuSchedule, types: dict[str, str], init_shape: str, f16_math: bool = False
) -> str:
    """The text of ``func.func private @name`` computing the conv on the GPU (see the module docstring).

    ``types`` holds the argument types; ``types["init"]`` says what the sums start from: the
    full ``init_shape`` tensor, a per-filter bias ``tensor<Mxf32>``, or one ``f32`` (a fill).
    ``f16_math`` (f16 weights only): each kernel group's products are summed in f16 vec4s, and
    each group's sum is added to f32 accumulators, so f16 rounding spans one group at a time.
    """
    n, c, (d, h, w) = geometry.batch, geometry.in_channels, geometry.in_size
    m = geometry.out_channels
    kd, kh, kw = geometry.kernel_size
    sd, sh, sw = geometry.strides
    pd, ph, pw = geometry.padding[:3]
    dd, dh, dw = geometry.dilations
    do, ho, wo = geometry.out_size
    gm, gn = geometry.group_shape.filters, geometry.group_shape.channels
    grid_n = geometry.group_grid[1]
    positions_out = output_positions(geometry)
    vectors = filter_vectors(geometry)
    per_thread = schedule.outputs_per_thread
    grid = workgroup_count(geometry, schedule)
    in_size, out_size = n * c * d * h * w, n * m * positions_out
    vec = f"vector<{VECTOR_WIDTH}xf32>"
    weights_f16 = types["values"].endswith("xf16>")
    if f16_math and not weights_f16:
        raise UserError("f16 arithmetic needs f16 weights")
    inner = f"vector<{VECTOR_WIDTH}xf16>" if f16_math else vec  # the accumulators inside one group

    t = _Text()
    head = (
        f"func.func private @{name}(%input: {types['input']}, %values: {types['values']}, %offsets: {types['offsets']}, "
        f"%positions: {types['positions']}, %bases: {types['bases']}, %init: {types['init']}) -> {init_shape} {{"
    )
    init_kind = "scalar" if types["init"] == "f32" else "tensor" if types["init"] == init_shape else "bias"
    flat = {"init": "%init"}
    for arg, size in (("input", in_size), ("values", None), ("offsets", None), ("positions", None), ("bases", None), ("init", out_size)):
        if arg == "init" and init_kind == "scalar":
            continue
        tensor_type = types[arg]
        memref_type = tensor_type.replace("tensor<", "memref<")
        if arg == "init" and init_kind == "bias":
            size = None
        buffer = t.op("b", f"bufferization.to_buffer %{arg} read_only : {tensor_type} to {memref_type}")
        if size is not None:
            buffer = t.op("f", f"memref.collapse_shape {buffer} [{list(range(5))}] : {memref_type} into memref<{size}xf32>")
        flat[arg] = buffer
    out = t.op("out", f"memref.alloc() : {init_shape.replace('tensor<', 'memref<')}")
    out_flat = t.op("f", f"memref.collapse_shape {out} [{list(range(5))}] : {init_shape.replace('tensor<', 'memref<')} into memref<{out_size}xf32>")
    grid_x, grid_y, grid_z = (t.index(v) for v in grid)
    threads, one = t.index(schedule.workgroup_size), t.index(1)
    t.emit(
        f"gpu.launch blocks(%tile, %block, %batch) in (%gx = {grid_x}, %gy = {grid_y}, %gz = {grid_z}) "
        f"threads(%tid, %ty, %tz) in (%sx = {threads}, %sy = {one}, %sz = {one}) {{"
    )
    zero_f = t.op("z", "arith.constant 0.0 : f32")
    zero_v = t.op("z", f"arith.constant dense<0.0> : {vec}")
    zero_inner = t.op("z", f"arith.constant dense<0.0> : {inner}") if f16_math else zero_v
    first_filter = t.binary("muli", "%block", gm)
    filters_here = t.op("i", f"arith.minsi {t.index(gm)}, {t.binary('subi', t.index(m), first_filter)} : index")
    tile_base = t.binary("addi", t.binary("muli", "%tile", schedule.tile), "%tid")
    # Per owned output position: in range?, its linear index, the corner of its input window.
    owned = []
    for j in range(per_thread):
        linear = t.binary("addi", tile_base, j * schedule.workgroup_size)
        valid = t.op("v", f"arith.cmpi slt, {linear}, {t.index(positions_out)} : index")
        clamped = t.op("i", f"arith.minsi {linear}, {t.index(positions_out - 1)} : index")
        ox = t.binary("remsi", clamped, wo)
        oy = t.binary("remsi", t.binary("divsi", clamped, wo), ho)
        oz = t.binary("divsi", clamped, wo * ho)
        corner = tuple(t.binary("subi", t.binary("muli", o, s), p) for o, s, p in ((oz, sd, pd), (oy, sh, ph), (ox, sw, pw)))
        owned.append((linear, valid, corner))
    batch_in = t.binary("muli", "%batch", c * d * h * w)
    # Accumulator (owned position j, filter vec4 v) at index j * vectors + v.
    flat_accs = [f"%acc_{j}_{v}" for j in range(per_thread) for v in range(vectors)]

    count = len(flat_accs)
    t.emit(f"%acc_out:{count} = scf.for %group = {t.index(0)} to {t.index(grid_n)} step {t.index(1)} iter_args("
           + ", ".join(f"{a}_g = {zero_v}" for a in flat_accs) + f") -> ({', '.join([vec] * count)}) {{")
    current = [f"{a}_g" for a in flat_accs]
    g = t.binary("addi", t.binary("muli", "%block", grid_n), "%group")
    memref_of = {key: value.replace("tensor<", "memref<") for key, value in types.items()}

    def table(name: str, index: str) -> str:
        loaded = t.op("l", f"memref.load {flat[name]}[{index}] : {memref_of[name]}")
        return t.op("i", f"arith.index_cast {loaded} : i32 to index")

    k_begin, k_end, base = table("offsets", g), table("offsets", t.binary("addi", g, 1)), table("bases", g)
    first_channel = t.binary("muli", "%group", gn)
    channels_here = t.op("i", f"arith.minsi {t.index(gn)}, {t.binary('subi', t.index(c), first_channel)} : index")
    step_weights = t.binary("muli", channels_here, filters_here)
    group_sums = current
    starts = [zero_inner] * count if f16_math else current
    t.emit(f"%acc_k:{count} = scf.for %k = {k_begin} to {k_end} step {t.index(1)} iter_args("
           + ", ".join(f"{a}_k = {start}" for a, start in zip(flat_accs, starts)) + f") -> ({', '.join([inner] * count)}) {{")
    current = [f"{a}_k" for a in flat_accs]
    position = table("positions", "%k")
    offsets_kernel = (t.binary("divsi", position, kh * kw), t.binary("remsi", t.binary("divsi", position, kw), kh), t.binary("remsi", position, kw))
    # Per owned position: is the input of this kernel position inside the (unpadded) input, and where.
    spatial = []
    for _, _, corner in owned:
        coords, inside = [], None
        for start, offset, dilation, extent in zip(corner, offsets_kernel, (dd, dh, dw), (d, h, w)):
            coord = t.binary("addi", start, t.binary("muli", offset, dilation))
            low = t.op("v", f"arith.cmpi sge, {coord}, {t.index(0)} : index")
            high = t.op("v", f"arith.cmpi slt, {coord}, {t.index(extent)} : index")
            both = t.op("v", f"arith.andi {low}, {high} : i1")
            inside = both if inside is None else t.op("v", f"arith.andi {inside}, {both} : i1")
            coords.append(coord)
        linear = t.binary("addi", t.binary("muli", t.binary("addi", t.binary("muli", coords[0], h), coords[1]), w), coords[2])
        safe = t.op("i", f"arith.select {inside}, {linear}, {t.index(0)} : index")
        spatial.append((inside, t.binary("addi", batch_in, safe)))
    entry_weights = t.binary("addi", base, t.binary("muli", t.binary("subi", "%k", k_begin), step_weights))
    t.emit(f"%acc_c:{count} = scf.for %ch = {t.index(0)} to {channels_here} step {t.index(1)} iter_args("
           + ", ".join(f"{a}_c = {cur}" for a, cur in zip(flat_accs, current)) + f") -> ({', '.join([inner] * count)}) {{")
    current = [f"{a}_c" for a in flat_accs]
    weight_row = t.binary("addi", entry_weights, t.binary("muli", "%ch", filters_here))
    last_filter = t.binary("subi", filters_here, 1)
    weights = []
    for v in range(vectors):
        lanes = []
        for lane in range(VECTOR_WIDTH):
            # Lanes past a tail block's last filter repeat it; their sums are never stored.
            index = t.binary("addi", weight_row, t.op("i", f"arith.minsi {t.index(v * VECTOR_WIDTH + lane)}, {last_filter} : index"))
            weight = t.op("w", f"memref.load {flat['values']}[{index}] : {memref_of['values']}")
            if weights_f16 and not f16_math:  # f16 storage halves the weight traffic; the arithmetic stays f32
                weight = t.op("w", f"arith.extf {weight} : f16 to f32")
            lanes.append(weight)
        weights.append(t.op("wv", f"vector.from_elements {', '.join(lanes)} : {inner}"))
    channel_offset = t.binary("muli", t.binary("addi", first_channel, "%ch"), d * h * w)
    updated = []
    for j, (inside, address) in enumerate(spatial):
        loaded = t.op("x", f"memref.load {flat['input']}[{t.binary('addi', address, channel_offset)}] : memref<{in_size}xf32>")
        value = t.op("x", f"arith.select {inside}, {loaded}, {zero_f} : f32")
        if f16_math:
            value = t.op("x", f"arith.truncf {value} : f32 to f16")
        broadcast = t.op("xv", f"vector.broadcast {value} : {'f16' if f16_math else 'f32'} to {inner}")
        for v in range(vectors):
            updated.append(t.op("a", f"vector.fma {broadcast}, {weights[v]}, {current[j * vectors + v]} : {inner}"))
    t.emit(f"scf.yield {', '.join(updated)} : {', '.join([inner] * count)}")
    t.emit("}")
    t.emit(f"scf.yield {', '.join(f'%acc_c#{i}' for i in range(count))} : {', '.join([inner] * count)}")
    t.emit("}")
    group_results = [f"%acc_k#{i}" for i in range(count)]
    if f16_math:  # the group's f16 sums join the f32 totals
        group_results = [t.op("a", f"arith.addf {total}, {t.op('a', f'arith.extf {part} : {inner} to {vec}')} : {vec}")
                         for total, part in zip(group_sums, group_results)]
    t.emit(f"scf.yield {', '.join(group_results)} : {', '.join([vec] * count)}")
    t.emit("}")
    # Epilogue: out = init + sum, for owned positions in range and filters of this block.
    for j, (linear, valid, _) in enumerate(owned):
        t.emit(f"scf.if {valid} {{")
        for v in range(vectors):
            for lane in range(VECTOR_WIDTH):
                filter_index = v * VECTOR_WIDTH + lane
                if filter_index >= gm:
                    continue
                keep = t.op("v", f"arith.cmpi slt, {t.index(filter_index)}, {filters_here} : index")
                t.emit(f"scf.if {keep} {{")
                channel = t.binary("addi", t.binary("addi", first_filter, filter_index), t.binary("muli", "%batch", m))
                address = t.binary("addi", t.binary("muli", channel, positions_out), linear)
                if init_kind == "tensor":
                    init_value = t.op("y", f"memref.load {flat['init']}[{address}] : memref<{out_size}xf32>")
                elif init_kind == "bias":
                    filter_here = t.binary("addi", first_filter, filter_index)
                    init_value = t.op("y", f"memref.load {flat['init']}[{filter_here}] : memref<{m}xf32>")
                else:
                    init_value = flat["init"]
                lane_value = t.op("y", f"vector.extract %acc_out#{j * vectors + v}[{lane}] : f32 from {vec}")
                total = t.op("y", f"arith.addf {init_value}, {lane_value} : f32")
                t.emit(f"memref.store {total}, {out_flat}[{address}] : memref<{out_size}xf32>")
                t.emit("}")
        t.emit("}")
    t.emit("gpu.terminator")
    t.emit("}")
    result = t.op("r", f"bufferization.to_tensor {out} restrict writable : {init_shape.replace('tensor<', 'memref<')} to {init_shape}")
    t.emit(f"return {result} : {init_shape}")
    return "\n".join([head, *t.prelude, *t.lines, "}"])

