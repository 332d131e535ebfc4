// RUN: rt3d-opt %s --split-input-file --ungroup-convolution | filecheck %s
// RUN: rt3d-opt %s --split-input-file --ungroup-convolution | filecheck %s --check-prefix=BLOB

// Two groups of one filter over one channel each: filter 0 keeps channel 0, filter 1 channel 1.
// CHECK-LABEL: func.func @two_groups
// CHECK:       %[[W:.*]] = torch.vtensor.literal(dense_resource<ungrouped_{{[0-9]+}}> : tensor<2x2x1x1x1xf32>) : !torch.vtensor<[2,2,1,1,1],f32>
// CHECK:       %[[ONE:.*]] = torch.constant.int 1
// CHECK:       torch.aten.convolution %arg0, %[[W]], %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[ONE]] :
// CHECK-SAME:  !torch.vtensor<[2,2,1,1,1],f32>
// [[2], [3]] as [[2, 0], [0, 3]] (after the 4 alignment bytes):
// BLOB:        ungrouped_{{[0-9]+}}: "0x0400000000000040000000000000000000004040"
func.func @two_groups(%x: !torch.vtensor<[1,2,1,1,1],f32>) -> !torch.vtensor<[1,2,1,1,1],f32> {
  %w = torch.vtensor.literal(dense<[[[[[2.0]]]], [[[[3.0]]]]]> : tensor<2x1x1x1x1xf32>) : !torch.vtensor<[2,1,1,1,1],f32>
  %none = torch.constant.none
  %int0 = torch.constant.int 0
  %int1 = torch.constant.int 1
  %int2 = torch.constant.int 2
  %false = torch.constant.bool false
  %ones = torch.prim.ListConstruct %int1, %int1, %int1 : (!torch.int, !torch.int, !torch.int) -> !torch.list<int>
  %zeros = torch.prim.ListConstruct %int0, %int0, %int0 : (!torch.int, !torch.int, !torch.int) -> !torch.list<int>
  %y = torch.aten.convolution %x, %w, %none, %ones, %zeros, %ones, %false, %zeros, %int2 : !torch.vtensor<[1,2,1,1,1],f32>, !torch.vtensor<[2,1,1,1,1],f32>, !torch.none, !torch.list<int>, !torch.list<int>, !torch.list<int>, !torch.bool, !torch.list<int>, !torch.int -> !torch.vtensor<[1,2,1,1,1],f32>
  return %y : !torch.vtensor<[1,2,1,1,1],f32>
}

// -----

// A filter that is not a constant stays grouped (torch-mlir reports the conv it cannot lower).
// CHECK-LABEL: func.func @runtime_filter
// CHECK:       torch.aten.convolution %arg0, %arg1, {{.*}}, %int2 :
func.func @runtime_filter(%x: !torch.vtensor<[1,2,1,1,1],f32>, %w: !torch.vtensor<[2,1,1,1,1],f32>) -> !torch.vtensor<[1,2,1,1,1],f32> {
  %none = torch.constant.none
  %int0 = torch.constant.int 0
  %int1 = torch.constant.int 1
  %int2 = torch.constant.int 2
  %false = torch.constant.bool false
  %ones = torch.prim.ListConstruct %int1, %int1, %int1 : (!torch.int, !torch.int, !torch.int) -> !torch.list<int>
  %zeros = torch.prim.ListConstruct %int0, %int0, %int0 : (!torch.int, !torch.int, !torch.int) -> !torch.list<int>
  %y = torch.aten.convolution %x, %w, %none, %ones, %zeros, %ones, %false, %zeros, %int2 : !torch.vtensor<[1,2,1,1,1],f32>, !torch.vtensor<[2,1,1,1,1],f32>, !torch.none, !torch.list<int>, !torch.list<int>, !torch.list<int>, !torch.bool, !torch.list<int>, !torch.int -> !torch.vtensor<[1,2,1,1,1],f32>
  return %y : !torch.vtensor<[1,2,1,1,1],f32>
}
