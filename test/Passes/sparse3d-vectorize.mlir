// RUN: rt3d-opt %s --split-input-file --sparse3d-vectorize --canonicalize --cse 2>&1 | filecheck %s

// w-vectors: 8 lanes along W (W = 8: one vector per row), a register block of 2 filters x 1
// row; per kept entry the group's 4 channels are unrolled: one input vector load, one weight
// broadcast per filter, an FMA per accumulator. The per-entry tables (index buffers) are built
// at run time from the op's tables. The padded input (N, Dp, Hp, C, sw, Wq) = (1, 1, 5, 4, 1, 10)
// is written per (batch, padded depth) plane by its own function: halo rows as zero vectors,
// each input row channel by channel, a zero, an 8-wide copy, a zero.
// CHECK-LABEL: func.func private @kgs_conv3d_block_0_pad(
// CHECK-SAME:    %{{.*}}: memref<96xf32>, %{{.*}}: memref<200xf32>, %{{.*}}: index, %{{.*}}: index)
// CHECK:         scf.if
// CHECK:           scf.for
// CHECK:             scf.if
// CHECK:               scf.for
// CHECK:                 vector.store %{{.*}} : memref<200xf32>, vector<1xf32>
// CHECK:                 vector.load %{{.*}} : memref<96xf32>, vector<8xf32>
// CHECK-NEXT:            vector.store %{{.*}} : memref<200xf32>, vector<8xf32>
// CHECK:                 vector.store %{{.*}} : memref<200xf32>, vector<1xf32>
// CHECK:               } else {
// CHECK:                 vector.store %{{.*}} : memref<200xf32>, vector<8xf32>
// CHECK-LABEL: func.func private @kgs_conv3d_block_0(
// CHECK-SAME:    memref<2xindex>, %{{.*}}: memref<2xindex>
// CHECK:         %[[START:.*]] = vector.broadcast %{{.*}} : f32 to vector<8xf32>
// CHECK:         scf.for {{.*}} iter_args(%{{.*}} = %[[START]], %{{.*}} = %[[START]]) -> (vector<8xf32>, vector<8xf32>)
// CHECK-COUNT-4:   vector.load %{{.*}} : memref<200xf32>, vector<8xf32>
// CHECK-NOT:       vector.load
// CHECK:           scf.yield
// CHECK:         vector.store {{.*}} vector<8xf32>
// CHECK-LABEL: func.func private @kgs_conv3d_0(
// CHECK:         memref.alloc() {alignment = 64 : i64} : memref<1x1x5x4x1x10xf32>
// CHECK-NOT:     linalg.
// CHECK:         call @kgs_conv3d_block_0_pad(
// CHECK:         scf.for
// CHECK:         scf.for
// CHECK:         call @kgs_conv3d_block_0(
// CHECK-LABEL: func.func @w_vectors(
// CHECK:         call @kgs_conv3d_0
// CHECK-NOT:     sparse3d.kgs_conv3d
func.func @w_vectors(%in: tensor<1x4x1x3x8xf32>) -> tensor<1x8x1x3x8xf32> {
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<1x8x1x3x8xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<1x8x1x3x8xf32>) -> tensor<1x8x1x3x8xf32>
  %values = arith.constant dense<1.0> : tensor<64xf32>
  %offsets = arith.constant dense<[0, 2]> : tensor<2xi8>
  %positions = arith.constant dense<[1, 4]> : tensor<2xi8>
  %0 = "sparse3d.kgs_conv3d"(%in, %values, %offsets, %positions, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 1, 3, 3>, strides = array<i64: 1, 1, 1>, padding = array<i64: 0, 1, 1, 0, 1, 1>, dilations = array<i64: 1, 1, 1>, sparse3d.schedule = {channel_groups = 1 : i64, filters = 2 : i64, rows = 1 : i64, threads = 1 : i64, vector_lanes = 8 : i64, w_vectors = 1 : i64}} : (tensor<1x4x1x3x8xf32>, tensor<64xf32>, tensor<2xi8>, tensor<2xi8>, tensor<1x8x1x3x8xf32>) -> tensor<1x8x1x3x8xf32>
  return %0 : tensor<1x8x1x3x8xf32>
}

// -----

// filter-vectors: 8 lanes across the 8 filters, a register block of 1 row x 4 columns. The
// weights and per-entry tables are new constants packed at compile time (8 entries: 2 kept
// positions x 4 channels; weights 8 filters each), the kernel reads neither the op's values nor
// its tables. Per entry: one weight vector load, one broadcast input per output position, an
// FMA each; the final sums are written lane by lane into NCDHW. Two threads: the padding over
// (batch, padded depth) and the kernel over (batch, filter block, output depth), each an scf.parallel.
// CHECK-LABEL: func.func private @kgs_conv3d_block_0(
// CHECK-SAME:    %{{.*}}: memref<400xf32>, %{{.*}}: memref<64xf32>, %{{.*}}: memref<8xi32>, %{{.*}}: memref<2xi32>
// CHECK:         scf.for
// CHECK:           scf.for
// CHECK:             scf.for {{.*}} -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// CHECK:               vector.load %{{.*}} : memref<64xf32>, vector<8xf32>
// CHECK-COUNT-4:       vector.broadcast %{{.*}} : f32 to vector<8xf32>
// CHECK:               scf.yield
// CHECK-COUNT-32:    vector.extract
// CHECK-LABEL: func.func private @kgs_conv3d_0(
// CHECK-SAME:    tensor<64xf32>, %{{.*}}: tensor<8xi32>, %{{.*}}: tensor<2xi32>, %{{.*}}: f32)
// CHECK:         scf.parallel
// CHECK-NEXT:      func.call @kgs_conv3d_block_0_pad(
// CHECK:         scf.parallel
// CHECK-NEXT:      func.call @kgs_conv3d_block_0(
// CHECK-LABEL: func.func @filter_vectors(
// Entry k's input offset: channel * 10 + kh * 40 + kw (channel stride 10, row stride 4 x 10),
// entries in (channel, position) order; the one (block, chunk) holds entries [0, 8).
// CHECK-DAG:     arith.constant dense_resource<kgs_conv3d_0_weights> : tensor<64xf32>
// CHECK-DAG:     arith.constant dense<[1, 41, 11, 51, 21, 61, 31, 71]> : tensor<8xi32>
// CHECK-DAG:     arith.constant dense<[0, 8]> : tensor<2xi32>
// CHECK:         call @kgs_conv3d_0
// CHECK-NOT:     sparse3d.kgs_conv3d
func.func @filter_vectors(%in: tensor<1x4x2x3x8xf32>) -> tensor<1x8x2x3x8xf32> {
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<1x8x2x3x8xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<1x8x2x3x8xf32>) -> tensor<1x8x2x3x8xf32>
  %values = arith.constant dense<1.0> : tensor<64xf32>
  %offsets = arith.constant dense<[0, 2]> : tensor<2xi8>
  %positions = arith.constant dense<[1, 4]> : tensor<2xi8>
  %0 = "sparse3d.kgs_conv3d"(%in, %values, %offsets, %positions, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 1, 3, 3>, strides = array<i64: 1, 1, 1>, padding = array<i64: 0, 1, 1, 0, 1, 1>, dilations = array<i64: 1, 1, 1>, sparse3d.schedule = {kernel = "filter-vectors", channel_chunk = 4 : i64, columns = 4 : i64, filter_vectors = 1 : i64, rows = 1 : i64, threads = 2 : i64, vector_lanes = 8 : i64}} : (tensor<1x4x2x3x8xf32>, tensor<64xf32>, tensor<2xi8>, tensor<2xi8>, tensor<1x8x2x3x8xf32>) -> tensor<1x8x2x3x8xf32>
  return %0 : tensor<1x8x2x3x8xf32>
}

// -----

// w-vectors reading the input in place: the conv pads only along D (kernel 3x1x1, padding 1
// before and after), so no padded copy is made (no _pad function, no 6-D buffer) and the kernel
// takes the NCDHW input itself (1x4x3x2x13 = 312 floats). A third per-entry table holds each
// entry's input depth offset: output depth 1 (the only one whose kernel stays inside the input)
// runs the entries unchecked, depths 0 and 2 skip the entries that would read the missing halo
// (an scf.if around each entry's FMAs). W = 13 on 8 lanes: the masked last vector of a row is a
// masked input load too, so no load runs past the input's end.
// CHECK-NOT:   @kgs_conv3d_block_0_pad
// CHECK-LABEL: func.func private @kgs_conv3d_block_0(
// CHECK-SAME:    %{{.*}}: memref<312xf32>, %{{.*}}: memref<64xf32>, %{{.*}}: memref<2xi8>, %{{.*}}: memref<2xindex>, %{{.*}}: memref<2xindex>, %{{.*}}: memref<2xindex>
// CHECK:         %[[LOW:.*]] = arith.cmpi sge, %{{.*}}, %c1
// CHECK:         %[[HIGH:.*]] = arith.cmpi slt, %{{.*}}, %c2
// CHECK:         %[[INSIDE:.*]] = arith.andi %[[LOW]], %[[HIGH]]
// CHECK:         scf.if %[[INSIDE]] {
// CHECK:           scf.for
// CHECK-NOT:         scf.if
// CHECK:             vector.load %{{.*}} : memref<312xf32>, vector<8xf32>
// CHECK:             vector.maskedload %{{.*}} : memref<312xf32>, vector<8xi1>, vector<8xf32> into vector<8xf32>
// CHECK:         } else {
// CHECK:           scf.for
// CHECK:             scf.if %{{.*}} -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// CHECK:               vector.load %{{.*}} : memref<312xf32>, vector<8xf32>
// CHECK:               vector.maskedload %{{.*}} : memref<312xf32>
// CHECK-LABEL: func.func private @kgs_conv3d_0(
// CHECK-NOT:     memref<1x5x2x4x1x
// CHECK:         memref.collapse_shape %{{.*}} : memref<1x4x3x2x13xf32> into memref<312xf32>
// CHECK:         call @kgs_conv3d_block_0(
// CHECK-LABEL: func.func @w_vectors_in_place(
func.func @w_vectors_in_place(%in: tensor<1x4x3x2x13xf32>) -> tensor<1x8x3x2x13xf32> {
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<1x8x3x2x13xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<1x8x3x2x13xf32>) -> tensor<1x8x3x2x13xf32>
  %values = arith.constant dense<1.0> : tensor<64xf32>
  %offsets = arith.constant dense<[0, 2]> : tensor<2xi8>
  %positions = arith.constant dense<[0, 2]> : tensor<2xi8>
  %0 = "sparse3d.kgs_conv3d"(%in, %values, %offsets, %positions, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 3, 1, 1>, strides = array<i64: 1, 1, 1>, padding = array<i64: 1, 0, 0, 1, 0, 0>, dilations = array<i64: 1, 1, 1>, sparse3d.schedule = {channel_groups = 1 : i64, filters = 2 : i64, rows = 1 : i64, threads = 1 : i64, vector_lanes = 8 : i64, w_vectors = 2 : i64}} : (tensor<1x4x3x2x13xf32>, tensor<64xf32>, tensor<2xi8>, tensor<2xi8>, tensor<1x8x3x2x13xf32>) -> tensor<1x8x3x2x13xf32>
  return %0 : tensor<1x8x3x2x13xf32>
}
