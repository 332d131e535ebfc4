// RUN: rt3d-opt %s --split-input-file --outline-parallel-bodies | filecheck %s

// A plane loop whose body is a subview and a linalg.generic: the body moves into a private
// function of the values it used from outside (the two buffers, the scalar), then the induction
// variable; the loop keeps one call.
// CHECK-LABEL: func.func private @parallel_body_0(
// CHECK-SAME:    %[[IN:.*]]: memref<4x8xf32>, %[[OUT:.*]]: memref<4x8xf32>, %[[SCALE:.*]]: f32, %[[I:.*]]: index)
// CHECK:         %[[ROW_IN:.*]] = memref.subview %[[IN]][%[[I]], 0] [1, 8] [1, 1]
// CHECK:         %[[ROW_OUT:.*]] = memref.subview %[[OUT]][%[[I]], 0] [1, 8] [1, 1]
// CHECK:         linalg.generic {{.*}} ins(%[[ROW_IN]] : {{.*}}) outs(%[[ROW_OUT]] : {{.*}})
// CHECK:           arith.mulf %{{.*}}, %[[SCALE]]
// CHECK:         return
// CHECK-LABEL: func.func @scale_rows(
// CHECK:         scf.parallel (%[[ROW:.*]]) =
// CHECK-NEXT:      func.call @parallel_body_0(%arg0, %arg1, %arg2, %[[ROW]])
// CHECK-NEXT:      scf.reduce
#map = affine_map<(d0, d1) -> (d0, d1)>
func.func @scale_rows(%in: memref<4x8xf32>, %out: memref<4x8xf32>, %scale: f32) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  scf.parallel (%i) = (%c0) to (%c4) step (%c1) {
    %row_in = memref.subview %in[%i, 0] [1, 8] [1, 1] : memref<4x8xf32> to memref<1x8xf32, strided<[8, 1], offset: ?>>
    %row_out = memref.subview %out[%i, 0] [1, 8] [1, 1] : memref<4x8xf32> to memref<1x8xf32, strided<[8, 1], offset: ?>>
    linalg.generic {indexing_maps = [#map, #map], iterator_types = ["parallel", "parallel"]}
        ins(%row_in : memref<1x8xf32, strided<[8, 1], offset: ?>>) outs(%row_out : memref<1x8xf32, strided<[8, 1], offset: ?>>) {
    ^bb0(%x: f32, %y: f32):
      %scaled = arith.mulf %x, %scale : f32
      linalg.yield %scaled : f32
    }
    scf.reduce
  }
  return
}

// -----

// A body that is already one call (our kernels' loops) and a loop that reduces are left alone.
// CHECK-LABEL: func.func @kept
// CHECK-NOT:   parallel_body
// CHECK:       func.call @kernel
// CHECK:       scf.reduce(%{{.*}} : f32)
func.func private @kernel(%i: index)
func.func @kept(%x: memref<4xf32>) -> f32 {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %zero = arith.constant 0.0 : f32
  scf.parallel (%i) = (%c0) to (%c4) step (%c1) {
    func.call @kernel(%i) : (index) -> ()
    scf.reduce
  }
  %sum = scf.parallel (%i) = (%c0) to (%c4) step (%c1) init (%zero) -> f32 {
    %v = memref.load %x[%i] : memref<4xf32>
    scf.reduce(%v : f32) {
    ^bb0(%a: f32, %b: f32):
      %s = arith.addf %a, %b : f32
      scf.reduce.return %s : f32
    }
  }
  return %sum : f32
}
