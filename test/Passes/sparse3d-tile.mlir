// RUN: rt3d-opt %s --split-input-file --sparse3d-tile 2>&1 | filecheck %s
// RUN: rt3d-opt %s --split-input-file --sparse3d-tile=target=aarch64-neon 2>&1 | filecheck %s --check-prefix=NEON
// RUN: rt3d-opt %s --split-input-file --sparse3d-tile=target=host-avx2 2>&1 | filecheck %s --check-prefix=AVX2
// RUN: not rt3d-opt %s --sparse3d-tile=target=pentium 2>&1 | filecheck %s --check-prefix=BADTARGET

// BADTARGET: rt3d-opt: error: pass 'sparse3d-tile': unknown target 'pentium'; known: host, host-avx512, host-avx2, aarch64-neon

// The schedule comes from the module's target (16 registers of 8 lanes: 4 filters x 3 rows
// of 1 vector); the chunk of channel groups keeps
// its input slab within 2x L1d. target=... replaces the target.
// CHECK-LABEL: func.func @from_module_target
// CHECK:       "sparse3d.kgs_conv3d"
// CHECK-SAME:  sparse3d.schedule = {channel_groups = 2 : i64, filters = 4 : i64, rows = 3 : i64, threads = 2 : i64, vector_lanes = 8 : i64, w_vectors = 1 : i64}
// NEON:        module attributes {sparse3d.target = {cores = 1 : i64, l1_bytes = 65536 : i64, name = "aarch64-neon", vector_fmas_per_cycle = 2 : i64, vector_lanes = 4 : i64, vector_registers = 32 : i64}}
// NEON-LABEL:  func.func @from_module_target
// NEON:        "sparse3d.kgs_conv3d"
// NEON-SAME:   sparse3d.schedule = {channel_groups = 2 : i64, filters = 8 : i64, rows = 3 : i64, threads = 1 : i64, vector_lanes = 4 : i64, w_vectors = 1 : i64}
module attributes {sparse3d.target = {cores = 2 : i64, l1_bytes = 32768 : i64, name = "host-avx2", vector_lanes = 8 : i64, vector_registers = 16 : i64}} {
  func.func @from_module_target(%in: tensor<1x8x4x6x28xf32>, %init: tensor<1x16x4x6x28xf32>) -> tensor<1x16x4x6x28xf32> {
    %values = arith.constant dense<1.0> : tensor<256xf32>
    %offsets = arith.constant dense<[0, 2, 4, 6, 8]> : tensor<5xi32>
    %positions = arith.constant dense<[0, 13, 1, 26, 4, 5, 6, 7]> : tensor<8xi32>
    %0 = "sparse3d.kgs_conv3d"(%in, %values, %offsets, %positions, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 3, 3, 3>, strides = array<i64: 1, 1, 1>, padding = array<i64: 1, 1, 1, 1, 1, 1>, dilations = array<i64: 1, 1, 1>} : (tensor<1x8x4x6x28xf32>, tensor<256xf32>, tensor<5xi32>, tensor<8xi32>, tensor<1x16x4x6x28xf32>) -> tensor<1x16x4x6x28xf32>
    return %0 : tensor<1x16x4x6x28xf32>
  }
}

// -----

// A schedule already on the op is kept (hand-written or from an earlier run).
// CHECK-LABEL: func.func @keeps_given_schedule
// CHECK:       "sparse3d.kgs_conv3d"
// CHECK-SAME:  sparse3d.schedule = {channel_groups = 1 : i64, filters = 2 : i64, rows = 1 : i64, threads = 1 : i64, vector_lanes = 4 : i64, w_vectors = 2 : i64}
module attributes {sparse3d.target = {cores = 2 : i64, l1_bytes = 32768 : i64, name = "host-avx2", vector_lanes = 8 : i64, vector_registers = 16 : i64}} {
  func.func @keeps_given_schedule(%in: tensor<1x4x1x1x9xf32>, %init: tensor<1x8x1x1x9xf32>) -> tensor<1x8x1x1x9xf32> {
    %values = arith.constant dense<1.0> : tensor<32xf32>
    %offsets = arith.constant dense<[0, 1]> : tensor<2xi64>
    %positions = arith.constant dense<0> : tensor<1xi64>
    %0 = "sparse3d.kgs_conv3d"(%in, %values, %offsets, %positions, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 1, 1, 1>, strides = array<i64: 1, 1, 1>, padding = array<i64: 0, 0, 0, 0, 0, 0>, dilations = array<i64: 1, 1, 1>, sparse3d.schedule = {channel_groups = 1 : i64, filters = 2 : i64, rows = 1 : i64, threads = 1 : i64, vector_lanes = 4 : i64, w_vectors = 2 : i64}} : (tensor<1x4x1x1x9xf32>, tensor<32xf32>, tensor<2xi64>, tensor<1xi64>, tensor<1x8x1x1x9xf32>) -> tensor<1x8x1x1x9xf32>
    return %0 : tensor<1x8x1x1x9xf32>
  }
}

// -----

// Which kernel, per conv shape (host-avx512, 2 cores): w-vectors (lanes along output W) or
// filter-vectors (lanes across 16 filters). The weights' values do not matter to the choice
// (elided); the kept pattern in the tables does. AVX2 (8 lanes, 16 registers) chooses alike.
// conv1a: 3 channels, W = 112 = 7 x 16 lanes: no lane is wasted along W, and 81 entries per
// output would not hide filter-vectors' lane-by-lane stores: w-vectors.
// CHECK-LABEL: func.func @c3_w112_dense
// CHECK:       "sparse3d.kgs_conv3d"
// CHECK-SAME:  sparse3d.schedule = {channel_groups = 1 : i64, filters = 14 : i64, rows = 2 : i64, threads = 2 : i64, vector_lanes = 16 : i64, w_vectors = 1 : i64}
// AVX2-LABEL: func.func @c3_w112_dense
// AVX2:       "sparse3d.kgs_conv3d"
// AVX2-NOT:    kernel = "filter-vectors"
module attributes {sparse3d.target = {cores = 2 : i64, l1_bytes = 49152 : i64, name = "host-avx512", vector_lanes = 16 : i64, vector_registers = 32 : i64}} {
  func.func @c3_w112_dense(%in: tensor<1x3x1x4x112xf32>, %init: tensor<1x64x1x4x112xf32>) -> tensor<1x64x1x4x112xf32> {
    %values = arith.constant dense_resource<__elided__> : tensor<5184xf32>
    %offsets = arith.constant dense<[0, 27]> : tensor<2xi32>
    %positions = arith.constant dense<[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26]> : tensor<27xi8>
    %0 = "sparse3d.kgs_conv3d"(%in, %values, %offsets, %positions, %init) {group_shape = array<i64: 64, 4>, kernel_size = array<i64: 3, 3, 3>, strides = array<i64: 1, 1, 1>, padding = array<i64: 1, 1, 1, 1, 1, 1>, dilations = array<i64: 1, 1, 1>} : (tensor<1x3x1x4x112xf32>, tensor<5184xf32>, tensor<2xi32>, tensor<27xi8>, tensor<1x64x1x4x112xf32>) -> tensor<1x64x1x4x112xf32>
    return %0 : tensor<1x64x1x4x112xf32>
  }
}

// -----

// conv2a at 15% kept in 8x4 groups: a 16-filter vector would walk the union of two groups'
// positions (nearly twice the entries): w-vectors. Of its cheapest blocks, 4 filters x 2 rows x
// 3 vectors issues the fewest broadcasts per FMA with at least 4 filters.
// CHECK-LABEL: func.func @c64_w56_kgs
// CHECK:       "sparse3d.kgs_conv3d"
// CHECK-SAME:  sparse3d.schedule = {channel_groups = 7 : i64, filters = 4 : i64, rows = 2 : i64, threads = 2 : i64, vector_lanes = 16 : i64, w_vectors = 3 : i64}
// AVX2-LABEL: func.func @c64_w56_kgs
// AVX2:       "sparse3d.kgs_conv3d"
// AVX2-NOT:    kernel = "filter-vectors"
module attributes {sparse3d.target = {cores = 2 : i64, l1_bytes = 49152 : i64, name = "host-avx512", vector_lanes = 16 : i64, vector_registers = 32 : i64}} {
  func.func @c64_w56_kgs(%in: tensor<1x64x1x4x56xf32>, %init: tensor<1x32x1x4x56xf32>) -> tensor<1x32x1x4x56xf32> {
    %values = arith.constant dense_resource<__elided__> : tensor<8192xf32>
    %offsets = arith.constant dense<[0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48, 52, 56, 60, 64, 68, 72, 76, 80, 84, 88, 92, 96, 100, 104, 108, 112, 116, 120, 124, 128, 132, 136, 140, 144, 148, 152, 156, 160, 164, 168, 172, 176, 180, 184, 188, 192, 196, 200, 204, 208, 212, 216, 220, 224, 228, 232, 236, 240, 244, 248, 252, 256]> : tensor<65xi32>
    %positions = arith.constant dense<[4, 13, 17, 25, 0, 7, 16, 19, 1, 3, 13, 14, 6, 11, 13, 25, 2, 6, 11, 21, 3, 4, 11, 13, 9, 12, 23, 25, 0, 1, 4, 17, 13, 16, 17, 23, 13, 15, 22, 25, 4, 6, 8, 16, 4, 5, 14, 23, 0, 10, 16, 25, 8, 13, 18, 24, 2, 5, 7, 19, 0, 3, 16, 23, 6, 20, 24, 25, 5, 8, 14, 26, 2, 11, 14, 20, 7, 10, 18, 24, 0, 2, 3, 20, 2, 18, 19, 23, 1, 2, 4, 26, 2, 3, 16, 19, 2, 14, 23, 24, 4, 12, 13, 24, 11, 16, 24, 25, 3, 5, 6, 22, 0, 1, 5, 19, 3, 6, 18, 23, 0, 10, 11, 21, 2, 5, 9, 16, 4, 14, 24, 26, 7, 14, 21, 26, 2, 4, 14, 18, 1, 5, 18, 19, 0, 1, 5, 26, 0, 18, 21, 26, 4, 6, 18, 23, 6, 20, 22, 24, 0, 4, 7, 24, 10, 15, 16, 18, 8, 15, 24, 25, 0, 12, 14, 19, 6, 8, 21, 23, 2, 18, 19, 21, 9, 22, 23, 24, 3, 16, 21, 26, 0, 11, 15, 26, 4, 11, 17, 21, 0, 2, 5, 26, 0, 1, 2, 19, 15, 16, 20, 24, 7, 9, 19, 25, 6, 7, 9, 10, 11, 12, 14, 26, 5, 19, 21, 23, 2, 5, 10, 13, 7, 16, 19, 25, 4, 5, 13, 14, 8, 9, 13, 19, 4, 13, 22, 24, 2, 8, 23, 25, 9, 12, 13, 22]> : tensor<256xi8>
    %0 = "sparse3d.kgs_conv3d"(%in, %values, %offsets, %positions, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 3, 3, 3>, strides = array<i64: 1, 1, 1>, padding = array<i64: 1, 1, 1, 1, 1, 1>, dilations = array<i64: 1, 1, 1>} : (tensor<1x64x1x4x56xf32>, tensor<8192xf32>, tensor<65xi32>, tensor<256xi8>, tensor<1x32x1x4x56xf32>) -> tensor<1x32x1x4x56xf32>
    return %0 : tensor<1x32x1x4x56xf32>
  }
}

// -----

// R(2+1)D's 230-channel 1x3x3 conv, dense, W = 28: w-vectors would spend 2 vectors on 28
// columns (12.5% idle); filter-vectors keeps every lane busy.
// CHECK-LABEL: func.func @c230_w28_dense
// CHECK:       "sparse3d.kgs_conv3d"
// CHECK-SAME:  sparse3d.schedule = {channel_chunk = 130 : i64, columns = 14 : i64, filter_vectors = 2 : i64, kernel = "filter-vectors", rows = 1 : i64, threads = 2 : i64, vector_lanes = 16 : i64}
// AVX2-LABEL: func.func @c230_w28_dense
// AVX2:       "sparse3d.kgs_conv3d"
// AVX2-SAME:  kernel = "filter-vectors"
module attributes {sparse3d.target = {cores = 2 : i64, l1_bytes = 49152 : i64, name = "host-avx512", vector_lanes = 16 : i64, vector_registers = 32 : i64}} {
  func.func @c230_w28_dense(%in: tensor<1x230x1x3x28xf32>, %init: tensor<1x32x1x3x28xf32>) -> tensor<1x32x1x3x28xf32> {
    %values = arith.constant dense_resource<__elided__> : tensor<66240xf32>
    %offsets = arith.constant dense<[0, 9, 18, 27, 36]> : tensor<5xi32>
    %positions = arith.constant dense<[0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 2, 3, 4, 5, 6, 7, 8]> : tensor<36xi8>
    %0 = "sparse3d.kgs_conv3d"(%in, %values, %offsets, %positions, %init) {group_shape = array<i64: 32, 64>, kernel_size = array<i64: 1, 3, 3>, strides = array<i64: 1, 1, 1>, padding = array<i64: 0, 1, 1, 0, 1, 1>, dilations = array<i64: 1, 1, 1>} : (tensor<1x230x1x3x28xf32>, tensor<66240xf32>, tensor<5xi32>, tensor<36xi8>, tensor<1x32x1x3x28xf32>) -> tensor<1x32x1x3x28xf32>
    return %0 : tensor<1x32x1x3x28xf32>
  }
}

// -----

// conv4a/conv4b dense, W = 14: 2 of 16 lanes would idle along W: filter-vectors, 2 vectors x 14 columns.
// CHECK-LABEL: func.func @c512_w14_dense
// CHECK:       "sparse3d.kgs_conv3d"
// CHECK-SAME:  sparse3d.schedule = {channel_chunk = 46 : i64, columns = 7 : i64, filter_vectors = 2 : i64, kernel = "filter-vectors", rows = 2 : i64, threads = 2 : i64, vector_lanes = 16 : i64}
// AVX2-LABEL: func.func @c512_w14_dense
// AVX2:       "sparse3d.kgs_conv3d"
// AVX2-SAME:  kernel = "filter-vectors"
module attributes {sparse3d.target = {cores = 2 : i64, l1_bytes = 49152 : i64, name = "host-avx512", vector_lanes = 16 : i64, vector_registers = 32 : i64}} {
  func.func @c512_w14_dense(%in: tensor<1x512x1x2x14xf32>, %init: tensor<1x32x1x2x14xf32>) -> tensor<1x32x1x2x14xf32> {
    %values = arith.constant dense_resource<__elided__> : tensor<442368xf32>
    %offsets = arith.constant dense<[0, 27, 54, 81, 108, 135, 162, 189, 216]> : tensor<9xi32>
    %positions = arith.constant dense<[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26]> : tensor<216xi8>
    %0 = "sparse3d.kgs_conv3d"(%in, %values, %offsets, %positions, %init) {group_shape = array<i64: 32, 64>, kernel_size = array<i64: 3, 3, 3>, strides = array<i64: 1, 1, 1>, padding = array<i64: 1, 1, 1, 1, 1, 1>, dilations = array<i64: 1, 1, 1>} : (tensor<1x512x1x2x14xf32>, tensor<442368xf32>, tensor<9xi32>, tensor<216xi8>, tensor<1x32x1x2x14xf32>) -> tensor<1x32x1x2x14xf32>
    return %0 : tensor<1x32x1x2x14xf32>
  }
}

// -----

// conv4b at 20% kept in 8x4 groups: the two groups of a 16-filter vector keep different
// positions, so filter-vectors would multiply ~1.8x the entries: w-vectors.
// CHECK-LABEL: func.func @c512_w14_kgs
// CHECK:       "sparse3d.kgs_conv3d"
// CHECK-SAME:  sparse3d.schedule = {channel_groups = 28 : i64, filters = 8 : i64, rows = 2 : i64, threads = 2 : i64, vector_lanes = 16 : i64, w_vectors = 1 : i64}
// AVX2-LABEL: func.func @c512_w14_kgs
// AVX2:       "sparse3d.kgs_conv3d"
// AVX2-NOT:    kernel = "filter-vectors"
module attributes {sparse3d.target = {cores = 2 : i64, l1_bytes = 49152 : i64, name = "host-avx512", vector_lanes = 16 : i64, vector_registers = 32 : i64}} {
  func.func @c512_w14_kgs(%in: tensor<1x512x1x2x14xf32>, %init: tensor<1x16x1x2x14xf32>) -> tensor<1x16x1x2x14xf32> {
    %values = arith.constant dense_resource<__elided__> : tensor<40960xf32>
    %offsets = arith.constant dense<[0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75, 80, 85, 90, 95, 100, 105, 110, 115, 120, 125, 130, 135, 140, 145, 150, 155, 160, 165, 170, 175, 180, 185, 190, 195, 200, 205, 210, 215, 220, 225, 230, 235, 240, 245, 250, 255, 260, 265, 270, 275, 280, 285, 290, 295, 300, 305, 310, 315, 320, 325, 330, 335, 340, 345, 350, 355, 360, 365, 370, 375, 380, 385, 390, 395, 400, 405, 410, 415, 420, 425, 430, 435, 440, 445, 450, 455, 460, 465, 470, 475, 480, 485, 490, 495, 500, 505, 510, 515, 520, 525, 530, 535, 540, 545, 550, 555, 560, 565, 570, 575, 580, 585, 590, 595, 600, 605, 610, 615, 620, 625, 630, 635, 640, 645, 650, 655, 660, 665, 670, 675, 680, 685, 690, 695, 700, 705, 710, 715, 720, 725, 730, 735, 740, 745, 750, 755, 760, 765, 770, 775, 780, 785, 790, 795, 800, 805, 810, 815, 820, 825, 830, 835, 840, 845, 850, 855, 860, 865, 870, 875, 880, 885, 890, 895, 900, 905, 910, 915, 920, 925, 930, 935, 940, 945, 950, 955, 960, 965, 970, 975, 980, 985, 990, 995, 1000, 1005, 1010, 1015, 1020, 1025, 1030, 1035, 1040, 1045, 1050, 1055, 1060, 1065, 1070, 1075, 1080, 1085, 1090, 1095, 1100, 1105, 1110, 1115, 1120, 1125, 1130, 1135, 1140, 1145, 1150, 1155, 1160, 1165, 1170, 1175, 1180, 1185, 1190, 1195, 1200, 1205, 1210, 1215, 1220, 1225, 1230, 1235, 1240, 1245, 1250, 1255, 1260, 1265, 1270, 1275, 1280]> : tensor<257xi32>
    %positions = arith.constant dense<[0, 1, 4, 8, 10, 0, 6, 13, 17, 21, 0, 3, 5, 10, 20, 11, 18, 22, 24, 25, 0, 13, 15, 18, 23, 2, 5, 11, 18, 20, 7, 16, 17, 24, 26, 3, 8, 10, 14, 21, 1, 10, 14, 17, 26, 4, 5, 18, 21, 22, 3, 5, 17, 20, 25, 3, 13, 15, 19, 26, 0, 5, 8, 10, 16, 2, 8, 11, 20, 25, 5, 10, 12, 24, 26, 1, 8, 20, 21, 22, 0, 3, 11, 20, 23, 0, 4, 6, 11, 17, 0, 2, 6, 7, 17, 3, 5, 8, 15, 23, 5, 11, 14, 15, 25, 3, 6, 15, 19, 26, 1, 5, 9, 13, 16, 3, 5, 9, 10, 22, 5, 17, 24, 25, 26, 3, 12, 14, 17, 18, 7, 13, 14, 15, 20, 2, 5, 8, 18, 26, 3, 5, 9, 18, 24, 2, 10, 13, 14, 23, 4, 8, 11, 13, 26, 2, 6, 7, 10, 14, 1, 3, 15, 20, 22, 2, 3, 4, 10, 23, 4, 11, 12, 16, 21, 0, 8, 14, 18, 19, 2, 5, 8, 15, 17, 4, 7, 10, 14, 19, 3, 11, 20, 21, 26, 6, 10, 11, 18, 24, 2, 3, 18, 19, 20, 5, 6, 19, 21, 23, 1, 4, 8, 9, 21, 8, 11, 12, 21, 23, 3, 7, 11, 18, 20, 0, 3, 10, 15, 20, 3, 13, 16, 23, 25, 10, 12, 14, 20, 22, 1, 2, 4, 7, 11, 1, 9, 20, 23, 24, 0, 16, 19, 21, 22, 1, 2, 8, 13, 23, 0, 9, 14, 18, 21, 2, 5, 9, 17, 24, 1, 2, 7, 22, 25, 0, 1, 10, 20, 26, 0, 1, 5, 15, 24, 10, 11, 12, 16, 17, 1, 10, 17, 20, 22, 6, 11, 16, 24, 26, 7, 12, 17, 21, 26, 6, 10, 16, 22, 26, 0, 7, 11, 12, 22, 2, 3, 12, 14, 15, 1, 8, 10, 12, 15, 1, 7, 8, 15, 22, 6, 10, 14, 20, 22, 0, 1, 7, 8, 12, 1, 4, 7, 10, 16, 5, 10, 13, 15, 21, 3, 8, 9, 10, 13, 2, 6, 7, 8, 20, 2, 8, 9, 15, 25, 2, 6, 9, 20, 22, 1, 2, 3, 20, 26, 5, 9, 12, 15, 20, 8, 14, 20, 22, 25, 3, 9, 13, 15, 18, 7, 9, 18, 24, 25, 0, 8, 13, 14, 20, 1, 4, 9, 14, 26, 0, 2, 4, 11, 20, 12, 17, 20, 24, 25, 7, 9, 11, 12, 22, 5, 10, 11, 16, 19, 2, 4, 13, 20, 22, 10, 17, 23, 25, 26, 9, 11, 17, 21, 24, 1, 8, 9, 11, 19, 6, 9, 15, 18, 23, 1, 5, 7, 12, 25, 2, 7, 9, 12, 21, 1, 11, 12, 22, 25, 2, 10, 19, 20, 25, 0, 1, 14, 17, 22, 7, 8, 21, 25, 26, 2, 7, 12, 13, 20, 0, 3, 5, 10, 22, 7, 19, 22, 24, 26, 0, 15, 20, 24, 25, 0, 1, 9, 11, 17, 0, 4, 6, 9, 26, 4, 9, 15, 18, 25, 3, 4, 14, 18, 24, 2, 3, 8, 12, 14, 5, 7, 11, 18, 22, 0, 2, 6, 9, 18, 7, 18, 23, 24, 26, 7, 12, 15, 16, 24, 1, 11, 14, 15, 20, 0, 4, 16, 18, 23, 0, 1, 4, 12, 21, 6, 8, 12, 13, 21, 3, 12, 17, 23, 26, 2, 3, 4, 5, 12, 7, 19, 20, 23, 24, 2, 4, 9, 14, 22, 3, 9, 12, 25, 26, 2, 9, 16, 22, 23, 2, 5, 11, 16, 18, 8, 10, 16, 17, 26, 13, 14, 17, 20, 25, 2, 3, 10, 20, 26, 8, 16, 17, 20, 26, 5, 12, 13, 17, 25, 6, 7, 12, 21, 23, 1, 3, 4, 16, 24, 0, 2, 3, 12, 24, 7, 8, 16, 21, 22, 4, 8, 13, 15, 17, 2, 5, 21, 23, 26, 3, 5, 14, 15, 16, 0, 8, 16, 22, 25, 2, 3, 10, 11, 15, 12, 13, 17, 24, 25, 1, 4, 12, 23, 26, 3, 4, 10, 13, 16, 2, 8, 10, 13, 25, 1, 10, 13, 18, 19, 1, 2, 3, 10, 17, 3, 12, 13, 16, 24, 11, 12, 17, 20, 22, 0, 6, 7, 15, 26, 0, 7, 19, 21, 24, 1, 5, 9, 13, 24, 3, 15, 17, 19, 21, 4, 11, 18, 20, 23, 5, 15, 18, 23, 25, 7, 8, 11, 21, 24, 6, 8, 17, 21, 24, 6, 12, 13, 19, 26, 1, 2, 6, 9, 21, 5, 8, 9, 18, 24, 0, 3, 6, 21, 24, 3, 16, 17, 18, 26, 10, 12, 19, 21, 24, 4, 14, 15, 20, 23, 2, 7, 11, 12, 24, 7, 11, 13, 15, 23, 6, 8, 13, 16, 26, 5, 10, 14, 15, 19, 8, 10, 18, 20, 24, 2, 17, 19, 20, 23, 4, 13, 15, 16, 21, 3, 8, 14, 25, 26, 0, 11, 16, 18, 21, 12, 13, 16, 23, 25, 1, 2, 18, 23, 25, 0, 10, 18, 19, 26, 4, 6, 11, 22, 24, 3, 6, 8, 13, 24, 7, 8, 15, 17, 25, 0, 5, 15, 18, 24, 2, 4, 7, 20, 25, 1, 4, 7, 15, 18, 0, 6, 9, 12, 23, 0, 11, 16, 19, 24, 6, 10, 12, 16, 25, 2, 3, 5, 16, 26, 12, 15, 18, 23, 26, 4, 13, 20, 23, 26, 3, 9, 10, 23, 24, 0, 11, 17, 23, 26, 11, 12, 18, 20, 24, 2, 16, 20, 21, 23, 1, 7, 10, 24, 25, 0, 4, 7, 13, 26, 4, 12, 15, 22, 25, 3, 6, 10, 15, 21, 6, 9, 17, 21, 26, 3, 10, 11, 15, 23, 13, 14, 16, 19, 22, 3, 10, 19, 21, 23, 4, 8, 15, 23, 26, 1, 4, 8, 10, 21, 4, 14, 17, 21, 24, 8, 9, 12, 17, 24, 1, 3, 16, 18, 25, 0, 1, 2, 14, 20, 1, 2, 14, 15, 24, 0, 8, 16, 18, 20, 4, 7, 12, 20, 23, 12, 14, 15, 20, 22, 1, 3, 12, 17, 20, 0, 3, 6, 18, 25, 0, 12, 17, 21, 22, 0, 2, 9, 13, 16, 5, 9, 13, 14, 17, 0, 5, 6, 9, 26, 2, 4, 6, 9, 19, 0, 5, 21, 23, 24, 5, 6, 8, 11, 25, 3, 8, 12, 16, 26, 0, 6, 9, 10, 23, 15, 20, 21, 22, 25, 0, 7, 16, 22, 23, 6, 8, 10, 20, 23, 3, 9, 12, 15, 21, 0, 2, 17, 18, 21, 5, 6, 14, 19, 26, 6, 8, 12, 22, 26, 1, 2, 12, 20, 25, 1, 18, 23, 24, 25, 13, 17, 21, 23, 25, 0, 22, 24, 25, 26, 0, 2, 19, 22, 23, 1, 10, 16, 18, 25, 0, 4, 15, 17, 24, 8, 10, 17, 23, 26, 0, 4, 10, 11, 24, 4, 19, 21, 22, 23, 5, 11, 12, 17, 21, 2, 13, 17, 19, 26, 3, 8, 10, 13, 18, 4, 10, 11, 15, 19, 0, 2, 4, 15, 21, 8, 15, 21, 22, 25, 1, 3, 8, 21, 26, 0, 2, 14, 18, 25, 0, 8, 15, 22, 23, 3, 6, 14, 18, 22, 0, 1, 8, 11, 20, 2, 7, 13, 20, 22, 1, 4, 7, 22, 25, 4, 9, 10, 19, 23, 1, 2, 4, 18, 19, 8, 13, 21, 22, 24, 0, 5, 7, 22, 25, 2, 5, 9, 18, 21, 3, 16, 18, 19, 20, 4, 6, 9, 17, 25, 0, 2, 16, 17, 20, 2, 13, 19, 25, 26, 0, 12, 19, 21, 26, 0, 6, 12, 22, 23, 1, 2, 10, 12, 20]> : tensor<1280xi8>
    %0 = "sparse3d.kgs_conv3d"(%in, %values, %offsets, %positions, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 3, 3, 3>, strides = array<i64: 1, 1, 1>, padding = array<i64: 1, 1, 1, 1, 1, 1>, dilations = array<i64: 1, 1, 1>} : (tensor<1x512x1x2x14xf32>, tensor<40960xf32>, tensor<257xi32>, tensor<1280xi8>, tensor<1x16x1x2x14xf32>) -> tensor<1x16x1x2x14xf32>
    return %0 : tensor<1x16x1x2x14xf32>
  }
}

// -----

// conv5a/conv5b, W = 7: w-vectors would fill 7 of 16 lanes: filter-vectors.
// CHECK-LABEL: func.func @c512_w7_dense
// CHECK:       "sparse3d.kgs_conv3d"
// CHECK-SAME:  sparse3d.schedule = {channel_chunk = 50 : i64, columns = 7 : i64, filter_vectors = 2 : i64, kernel = "filter-vectors", rows = 2 : i64, threads = 2 : i64, vector_lanes = 16 : i64}
// AVX2-LABEL: func.func @c512_w7_dense
// AVX2:       "sparse3d.kgs_conv3d"
// AVX2-SAME:  kernel = "filter-vectors"
module attributes {sparse3d.target = {cores = 2 : i64, l1_bytes = 49152 : i64, name = "host-avx512", vector_lanes = 16 : i64, vector_registers = 32 : i64}} {
  func.func @c512_w7_dense(%in: tensor<1x512x1x2x7xf32>, %init: tensor<1x32x1x2x7xf32>) -> tensor<1x32x1x2x7xf32> {
    %values = arith.constant dense_resource<__elided__> : tensor<442368xf32>
    %offsets = arith.constant dense<[0, 27, 54, 81, 108, 135, 162, 189, 216]> : tensor<9xi32>
    %positions = arith.constant dense<[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26]> : tensor<216xi8>
    %0 = "sparse3d.kgs_conv3d"(%in, %values, %offsets, %positions, %init) {group_shape = array<i64: 32, 64>, kernel_size = array<i64: 3, 3, 3>, strides = array<i64: 1, 1, 1>, padding = array<i64: 1, 1, 1, 1, 1, 1>, dilations = array<i64: 1, 1, 1>} : (tensor<1x512x1x2x7xf32>, tensor<442368xf32>, tensor<9xi32>, tensor<216xi8>, tensor<1x32x1x2x7xf32>) -> tensor<1x32x1x2x7xf32>
    return %0 : tensor<1x32x1x2x7xf32>
  }
}

