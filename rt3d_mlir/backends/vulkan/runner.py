"""Runs a :class:`VulkanProgram` on a Vulkan device from Python (PyPI ``vulkan``, cffi bindings).

One device, one compute queue; every buffer is allocated once and the constants are uploaded
once. All dispatches are recorded into one command buffer with a compute-to-compute memory
barrier between consecutive ones, so a call is: write the inputs, submit, wait, read the
output; nothing goes back to the host in between. Timestamps around every dispatch give
per-kernel times (:attr:`VulkanRunner.last_dispatch_ms`). The device is checked against the
program's requirements before anything is created on it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch

from rt3d_mlir.backends.vulkan.program import VulkanProgram
from rt3d_mlir.errors import UserError

DEVICE_ENV = "RT3D_VULKAN_DEVICE"  # substring of the device name to use


def _vulkan():
    try:
        import vulkan
    except (ImportError, OSError) as error:  # OSError: the package is there but libvulkan.so.1 is not
        raise UserError(f"Vulkan is not available: {error}") from None
    return vulkan


@dataclass(frozen=True)
class DeviceInfo:
    name: str
    kind: str
    max_invocations: int
    max_workgroup_size: tuple[int, int, int]
    max_workgroup_count: tuple[int, int, int]
    max_storage_buffer_bytes: int
    timestamp_period_ns: float
    api_version: tuple[int, int]
    float16: bool  # shaderFloat16 and storageBuffer16BitAccess


_KIND_PREFERENCE = ("discrete", "integrated", "virtual", "other", "cpu")


def _device_info(vk, physical) -> DeviceInfo:
    properties = vk.vkGetPhysicalDeviceProperties(physical)
    limits = properties.limits
    kinds = {vk.VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: "discrete", vk.VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: "integrated",
             vk.VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: "virtual", vk.VK_PHYSICAL_DEVICE_TYPE_CPU: "cpu"}
    api_version = (properties.apiVersion >> 22, (properties.apiVersion >> 12) & 0x3FF)
    float16 = False
    if api_version >= (1, 1):
        arithmetic = vk.VkPhysicalDeviceShaderFloat16Int8Features()
        storage = vk.VkPhysicalDevice16BitStorageFeatures(pNext=arithmetic)
        vk.vkGetPhysicalDeviceFeatures2(physical, vk.VkPhysicalDeviceFeatures2(pNext=storage))
        float16 = bool(arithmetic.shaderFloat16 and storage.storageBuffer16BitAccess)
    return DeviceInfo(
        name=properties.deviceName,
        kind=kinds.get(properties.deviceType, "other"),
        max_invocations=limits.maxComputeWorkGroupInvocations,
        max_workgroup_size=tuple(limits.maxComputeWorkGroupSize),
        max_workgroup_count=tuple(limits.maxComputeWorkGroupCount),
        max_storage_buffer_bytes=limits.maxStorageBufferRange,
        timestamp_period_ns=limits.timestampPeriod,
        api_version=api_version,
        float16=float16,
    )


def check_device(info: DeviceInfo, program: VulkanProgram) -> None:
    """Raises UserError naming the first requirement of ``program`` the device does not meet."""
    need = program.requirements
    if program.float16 and not info.float16:
        raise UserError(f"device '{info.name}' lacks shaderFloat16 or storageBuffer16BitAccess, which the +fp16 target's kernels need")
    if need["max_workgroup_invocations"] > info.max_invocations:
        raise UserError(f"device '{info.name}' allows {info.max_invocations} invocations per workgroup, the program needs {need['max_workgroup_invocations']}")
    for label, needed, limit in (("workgroup size", need["max_workgroup_size"], info.max_workgroup_size),
                                 ("workgroup count", need["max_workgroup_count"], info.max_workgroup_count)):
        if any(n > m for n, m in zip(needed, limit)):
            raise UserError(f"device '{info.name}' allows a {label} of {list(limit)}, the program needs {needed}")
    if need["max_storage_buffer_bytes"] > info.max_storage_buffer_bytes:
        raise UserError(
            f"device '{info.name}' allows storage buffers of {info.max_storage_buffer_bytes} bytes, "
            f"the program needs {need['max_storage_buffer_bytes']}"
        )


class VulkanRunner:
    """A program loaded on one Vulkan device; call :meth:`run` with torch tensors."""

    def __init__(self, program: VulkanProgram, device: str | None = None, stage_constants: bool | None = None) -> None:
        """``device``: substring of the device name (default: $RT3D_VULKAN_DEVICE, else the first GPU);
        ``stage_constants``: upload constants through a staging copy (default: only where
        device-local memory is not host-visible)."""
        vk = self.vk = _vulkan()
        self.program = program
        self._stage_constants = stage_constants
        self._destroy: list = []  # cleanup callbacks, run in reverse
        self.last_dispatch_ms: list[float] = []
        try:
            app = vk.VkApplicationInfo(pApplicationName="rt3d-mlir", apiVersion=vk.VK_MAKE_VERSION(1, 1, 0))
            self.instance = vk.vkCreateInstance(vk.VkInstanceCreateInfo(pApplicationInfo=app), None)
        except vk.VkError as error:
            raise UserError(f"cannot create a Vulkan instance: {type(error).__name__}") from None
        self._destroy.append(lambda: vk.vkDestroyInstance(self.instance, None))
        try:
            self._open(device if device is not None else os.environ.get(DEVICE_ENV))
        except BaseException:
            self.close()
            raise

    def _open(self, wanted: str | None) -> None:
        vk = self.vk
        physicals = vk.vkEnumeratePhysicalDevices(self.instance)
        infos = [(_device_info(vk, p), p) for p in physicals]
        if wanted:
            infos = [(i, p) for i, p in infos if wanted.lower() in i.name.lower()]
        if not infos:
            raise UserError(f"no Vulkan device{f' matching {wanted!r}' if wanted else ''} found")
        self.info, physical = min(infos, key=lambda ip: _KIND_PREFERENCE.index(ip[0].kind))
        check_device(self.info, self.program)
        families = vk.vkGetPhysicalDeviceQueueFamilyProperties(physical)
        family = next((i for i, f in enumerate(families) if f.queueFlags & vk.VK_QUEUE_COMPUTE_BIT), None)
        if family is None:
            raise UserError(f"device '{self.info.name}' has no compute queue")
        self.timestamps = families[family].timestampValidBits > 0
        queue_info = vk.VkDeviceQueueCreateInfo(queueFamilyIndex=family, queueCount=1, pQueuePriorities=[1.0])
        features, extensions = None, []
        if self.program.float16:
            arithmetic = vk.VkPhysicalDeviceShaderFloat16Int8Features(shaderFloat16=vk.VK_TRUE)
            storage = vk.VkPhysicalDevice16BitStorageFeatures(pNext=arithmetic, storageBuffer16BitAccess=vk.VK_TRUE)
            features = vk.VkPhysicalDeviceFeatures2(pNext=storage)
            if self.info.api_version < (1, 2):  # shaderFloat16 became core in Vulkan 1.2
                extensions = ["VK_KHR_shader_float16_int8"]
        self.device = vk.vkCreateDevice(physical, vk.VkDeviceCreateInfo(
            pNext=features, queueCreateInfoCount=1, pQueueCreateInfos=[queue_info],
            enabledExtensionCount=len(extensions), ppEnabledExtensionNames=extensions), None)
        self._destroy.append(lambda: vk.vkDestroyDevice(self.device, None))
        self.queue = vk.vkGetDeviceQueue(self.device, family, 0)
        self._choose_memory_types(physical)
        self._create_buffers(family)
        self._record(family)

    def _choose_memory_types(self, physical) -> None:
        """Host-visible memory for inputs and the output (mapped), device-local memory for the rest.

        On mobile GPUs and lavapipe one memory type is both; on a discrete GPU the weights and
        activations then live in video memory and the constants go there through a staging copy.
        """
        vk = self.vk
        properties = vk.vkGetPhysicalDeviceMemoryProperties(physical)
        flags = [properties.memoryTypes[i].propertyFlags for i in range(properties.memoryTypeCount)]
        local, visible = vk.VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, vk.VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | vk.VK_MEMORY_PROPERTY_HOST_COHERENT_BIT
        mapped = [i for i, f in enumerate(flags) if f & visible == visible]
        if not mapped:
            raise UserError(f"device '{self.info.name}' has no host-visible coherent memory")
        self._mapped_type = min(mapped, key=lambda i: not flags[i] & local)
        self._local_type = next((i for i, f in enumerate(flags) if f & local), self._mapped_type)
        self._local_is_mapped = flags[self._local_type] & visible == visible
        if self._stage_constants is not None:
            self._local_is_mapped = not self._stage_constants

    def _allocate(self, size: int, usage: int, memory_type: int):
        vk, device = self.vk, self.device
        buffer = vk.vkCreateBuffer(device, vk.VkBufferCreateInfo(size=size, usage=usage, sharingMode=vk.VK_SHARING_MODE_EXCLUSIVE), None)
        self._destroy.append(lambda: vk.vkDestroyBuffer(device, buffer, None))
        requirements = vk.vkGetBufferMemoryRequirements(device, buffer)
        if not requirements.memoryTypeBits & (1 << memory_type):
            raise UserError(f"device '{self.info.name}' cannot place a storage buffer in memory type {memory_type}")
        try:
            memory = vk.vkAllocateMemory(device, vk.VkMemoryAllocateInfo(allocationSize=requirements.size, memoryTypeIndex=memory_type), None)
        except vk.VkError as error:
            raise UserError(f"device '{self.info.name}' cannot allocate {size} bytes: {type(error).__name__}") from None
        self._destroy.append(lambda: vk.vkFreeMemory(device, memory, None))
        vk.vkBindBufferMemory(device, buffer, memory, 0)
        return buffer, memory

    def _create_buffers(self, family: int) -> None:
        vk, program = self.vk, self.program
        storage = vk.VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | vk.VK_BUFFER_USAGE_TRANSFER_DST_BIT
        host_side = {slot.buffer for slot in program.inputs} | {program.output.buffer}
        self.buffers, self.memories = [], []
        staged = []
        for spec in program.buffers:
            memory_type = self._mapped_type if spec.id in host_side else self._local_type
            buffer, memory = self._allocate(spec.bytes, storage, memory_type)
            if spec.kind == "constant":
                if spec.id in host_side or self._local_is_mapped:
                    self._write(memory, program.constant_data(spec))
                else:
                    staged.append((spec, buffer))
            self.buffers.append(buffer)
            self.memories.append(memory)
        if staged:
            self._upload(staged, family)

    def _upload(self, staged: list, family: int) -> None:
        """Copies constants into device-local buffers through one host-visible staging buffer, once."""
        vk, device = self.vk, self.device
        offsets, total = [], 0
        for spec, _ in staged:
            offsets.append(total)
            total += -(-spec.bytes // 256) * 256
        staging, memory = self._allocate(total, vk.VK_BUFFER_USAGE_TRANSFER_SRC_BIT, self._mapped_type)
        mapped = vk.vkMapMemory(device, memory, 0, total, 0)
        for (spec, _), offset in zip(staged, offsets):
            data = self.program.constant_data(spec)
            mapped[offset:offset + len(data)] = data
        vk.vkUnmapMemory(device, memory)
        pool = vk.vkCreateCommandPool(device, vk.VkCommandPoolCreateInfo(queueFamilyIndex=family), None)
        cmd = vk.vkAllocateCommandBuffers(device, vk.VkCommandBufferAllocateInfo(
            commandPool=pool, level=vk.VK_COMMAND_BUFFER_LEVEL_PRIMARY, commandBufferCount=1))[0]
        vk.vkBeginCommandBuffer(cmd, vk.VkCommandBufferBeginInfo(flags=vk.VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT))
        for (spec, buffer), offset in zip(staged, offsets):
            vk.vkCmdCopyBuffer(cmd, staging, buffer, 1, [vk.VkBufferCopy(srcOffset=offset, dstOffset=0, size=spec.bytes)])
        vk.vkEndCommandBuffer(cmd)
        vk.vkQueueSubmit(self.queue, 1, [vk.VkSubmitInfo(commandBufferCount=1, pCommandBuffers=[cmd])], None)
        vk.vkQueueWaitIdle(self.queue)
        vk.vkDestroyCommandPool(device, pool, None)
        for _ in range(2):  # the staging memory and buffer (the last two allocations): not needed any more
            self._destroy.pop()()

    def _write(self, memory, data: bytes) -> None:
        mapped = self.vk.vkMapMemory(self.device, memory, 0, len(data), 0)
        mapped[:] = data
        self.vk.vkUnmapMemory(self.device, memory)

    def _read(self, memory, offset: int, size: int) -> bytes:
        mapped = self.vk.vkMapMemory(self.device, memory, offset, size, 0)
        data = bytes(mapped[:size])
        self.vk.vkUnmapMemory(self.device, memory)
        return data

    def _record(self, family: int) -> None:
        vk, device, program = self.vk, self.device, self.program
        modules = {}
        for name, blob in program.spirv.items():
            modules[name] = vk.vkCreateShaderModule(device, vk.VkShaderModuleCreateInfo(codeSize=len(blob), pCode=blob), None)
            self._destroy.append(lambda m=modules[name]: vk.vkDestroyShaderModule(device, m, None))
        total_bindings = sum(len(d.bindings) for d in program.dispatches)
        pool = vk.vkCreateDescriptorPool(device, vk.VkDescriptorPoolCreateInfo(
            maxSets=max(1, len(program.dispatches)), poolSizeCount=1,
            pPoolSizes=[vk.VkDescriptorPoolSize(type=vk.VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, descriptorCount=max(1, total_bindings))]), None)
        self._destroy.append(lambda: vk.vkDestroyDescriptorPool(device, pool, None))
        commands = vk.vkCreateCommandPool(device, vk.VkCommandPoolCreateInfo(queueFamilyIndex=family), None)
        self._destroy.append(lambda: vk.vkDestroyCommandPool(device, commands, None))
        self.command_buffer = vk.vkAllocateCommandBuffers(device, vk.VkCommandBufferAllocateInfo(
            commandPool=commands, level=vk.VK_COMMAND_BUFFER_LEVEL_PRIMARY, commandBufferCount=1))[0]
        count = len(program.dispatches) + 1
        if self.timestamps:
            self.queries = vk.vkCreateQueryPool(device, vk.VkQueryPoolCreateInfo(queryType=vk.VK_QUERY_TYPE_TIMESTAMP, queryCount=count), None)
            self._destroy.append(lambda: vk.vkDestroyQueryPool(device, self.queries, None))
        self.fence = vk.vkCreateFence(device, vk.VkFenceCreateInfo(), None)
        self._destroy.append(lambda: vk.vkDestroyFence(device, self.fence, None))
        cmd = self.command_buffer
        vk.vkBeginCommandBuffer(cmd, vk.VkCommandBufferBeginInfo())
        if self.timestamps:
            vk.vkCmdResetQueryPool(cmd, self.queries, 0, count)
            vk.vkCmdWriteTimestamp(cmd, vk.VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, self.queries, 0)
        barrier = vk.VkMemoryBarrier(srcAccessMask=vk.VK_ACCESS_SHADER_WRITE_BIT, dstAccessMask=vk.VK_ACCESS_SHADER_READ_BIT | vk.VK_ACCESS_SHADER_WRITE_BIT)
        for index, dispatch in enumerate(program.dispatches):
            bindings = [vk.VkDescriptorSetLayoutBinding(binding=i, descriptorType=vk.VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                                        descriptorCount=1, stageFlags=vk.VK_SHADER_STAGE_COMPUTE_BIT)
                        for i in range(len(dispatch.bindings))]
            layout = vk.vkCreateDescriptorSetLayout(device, vk.VkDescriptorSetLayoutCreateInfo(bindingCount=len(bindings), pBindings=bindings), None)
            self._destroy.append(lambda handle=layout: vk.vkDestroyDescriptorSetLayout(device, handle, None))
            pipeline_layout = vk.vkCreatePipelineLayout(device, vk.VkPipelineLayoutCreateInfo(setLayoutCount=1, pSetLayouts=[layout]), None)
            self._destroy.append(lambda handle=pipeline_layout: vk.vkDestroyPipelineLayout(device, handle, None))
            stage = vk.VkPipelineShaderStageCreateInfo(stage=vk.VK_SHADER_STAGE_COMPUTE_BIT, module=modules[dispatch.module], pName=dispatch.entry_point)
            pipeline = vk.vkCreateComputePipelines(device, None, 1, [vk.VkComputePipelineCreateInfo(stage=stage, layout=pipeline_layout)], None)[0]
            self._destroy.append(lambda p=pipeline: vk.vkDestroyPipeline(device, p, None))
            descriptor_set = vk.vkAllocateDescriptorSets(device, vk.VkDescriptorSetAllocateInfo(descriptorPool=pool, descriptorSetCount=1, pSetLayouts=[layout]))[0]
            writes = [vk.VkWriteDescriptorSet(dstSet=descriptor_set, dstBinding=i, descriptorCount=1, descriptorType=vk.VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                              pBufferInfo=[vk.VkDescriptorBufferInfo(buffer=self.buffers[b], offset=0, range=program.buffers[b].bytes)])
                      for i, b in enumerate(dispatch.bindings)]
            if writes:
                vk.vkUpdateDescriptorSets(device, len(writes), writes, 0, None)
            vk.vkCmdBindPipeline(cmd, vk.VK_PIPELINE_BIND_POINT_COMPUTE, pipeline)
            vk.vkCmdBindDescriptorSets(cmd, vk.VK_PIPELINE_BIND_POINT_COMPUTE, pipeline_layout, 0, 1, [descriptor_set], 0, None)
            vk.vkCmdDispatch(cmd, *dispatch.workgroups)
            vk.vkCmdPipelineBarrier(cmd, vk.VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, vk.VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0,
                                    1, [barrier], 0, None, 0, None)
            if self.timestamps:
                vk.vkCmdWriteTimestamp(cmd, vk.VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, self.queries, index + 1)
        vk.vkEndCommandBuffer(cmd)

    def run(self, *inputs: torch.Tensor) -> torch.Tensor:
        """Writes ``inputs``, runs every dispatch, returns the output as a new float32 tensor."""
        vk, program = self.vk, self.program
        if len(inputs) != len(program.inputs):
            raise UserError(f"the compiled model takes {len(program.inputs)} input(s), got {len(inputs)}")
        for index, (tensor, slot) in enumerate(zip(inputs, program.inputs)):
            if list(tensor.shape) != slot.shape or tensor.dtype != torch.float32:
                raise UserError(f"input {index} must be a float32 tensor of shape {tuple(slot.shape)}, got {tensor.dtype} {tuple(tensor.shape)}")
            self._write(self.memories[slot.buffer], tensor.detach().contiguous().numpy().tobytes())
        vk.vkResetFences(self.device, 1, [self.fence])
        vk.vkQueueSubmit(self.queue, 1, [vk.VkSubmitInfo(commandBufferCount=1, pCommandBuffers=[self.command_buffer])], self.fence)
        vk.vkWaitForFences(self.device, 1, [self.fence], vk.VK_TRUE, 2**63 - 1)
        if self.timestamps:
            self.last_dispatch_ms = self._dispatch_times()
        out = program.output
        size = int(np.prod(out.shape)) * 4
        data = self._read(self.memories[out.buffer], out.offset_elements * 4, size)
        return torch.from_numpy(np.frombuffer(data, dtype=np.float32).reshape(out.shape).copy())

    def _dispatch_times(self) -> list[float]:
        vk = self.vk
        count = len(self.program.dispatches) + 1
        raw = vk.ffi.new("uint64_t[]", count)
        vk.vkGetQueryPoolResults(self.device, self.queries, 0, count, count * 8, raw, 8,
                                 vk.VK_QUERY_RESULT_64_BIT | vk.VK_QUERY_RESULT_WAIT_BIT)
        stamps = [int(raw[i]) for i in range(count)]
        return [(b - a) * self.info.timestamp_period_ns / 1e6 for a, b in zip(stamps, stamps[1:])]

    def close(self) -> None:
        """Destroys everything created on the device (also done when the runner is collected)."""
        if getattr(self, "device", None) is not None:
            self.vk.vkDeviceWaitIdle(self.device)
        while self._destroy:
            self._destroy.pop()()
        self.device = None  # a second close (or the collector's) must not touch the destroyed device

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown may have unloaded the bindings
            pass
