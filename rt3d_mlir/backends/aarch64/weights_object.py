"""The weights as an AArch64 ELF relocatable object: one read-only section, one hidden symbol per array.

The lowered code declares each weight array as an external symbol ``PREFIX_wN``
(see ``lower.extract_weights``); this object defines them. Writing the ELF
file directly keeps hundreds of MB of weights out of LLVM IR text (llvmlite
has no AArch64 assembler parser for an ``.incbin``), and one weights object
serves every variant and both Linux and Android (the symbols and the ELF
format are the same).
"""

from __future__ import annotations

import struct

import numpy as np

_ALIGN = 64  # as MLIR aligns its globals
_EM_AARCH64 = 183
_SHT_PROGBITS, _SHT_SYMTAB, _SHT_STRTAB = 1, 2, 3
_SHF_ALLOC = 0x2
_STB_GLOBAL, _STT_OBJECT, _STV_HIDDEN = 1, 1, 2


def _strings(names: list[str]) -> tuple[bytes, list[int]]:
    table, offsets = bytearray(b"\0"), []
    for name in names:
        offsets.append(len(table))
        table += name.encode() + b"\0"
    return bytes(table), offsets


def weights_object(weights: dict[str, np.ndarray]) -> bytes:
    """An ELF64 little-endian AArch64 ET_REL object defining ``weights`` (symbol -> array) in ``.rodata.rt3d_weights``."""
    data, offsets = bytearray(), []
    for array in weights.values():
        data += b"\0" * (-len(data) % _ALIGN)
        offsets.append(len(data))
        data += np.ascontiguousarray(array).tobytes()
    strtab, name_offsets = _strings(list(weights))
    symbols = bytearray(24)  # the null symbol
    for name_offset, offset, array in zip(name_offsets, offsets, weights.values()):
        info = (_STB_GLOBAL << 4) | _STT_OBJECT
        symbols += struct.pack("<IBBHQQ", name_offset, info, _STV_HIDDEN, 1, offset, array.nbytes)
    section_names = [".rodata.rt3d_weights", ".symtab", ".strtab", ".shstrtab", ".note.GNU-stack"]
    shstrtab, section_name_offsets = _strings(section_names)

    # layout: ELF header, then each section's bytes (aligned), then the section header table
    contents = [bytes(data), bytes(symbols), strtab, shstrtab, b""]
    alignments = [_ALIGN, 8, 1, 1, 1]
    body, file_offsets = bytearray(), []
    for content, alignment in zip(contents, alignments):
        body += b"\0" * (-(64 + len(body)) % alignment)
        file_offsets.append(64 + len(body))
        body += content
    body += b"\0" * (-(64 + len(body)) % 8)
    section_headers_at = 64 + len(body)

    def section(name: int, kind: int, flags: int, offset: int, size: int, link: int, info: int, align: int, entsize: int) -> bytes:
        return struct.pack("<IIQQQQIIQQ", name, kind, flags, 0, offset, size, link, info, align, entsize)

    headers = bytes(64)  # the null section
    headers += section(section_name_offsets[0], _SHT_PROGBITS, _SHF_ALLOC, file_offsets[0], len(data), 0, 0, _ALIGN, 0)
    headers += section(section_name_offsets[1], _SHT_SYMTAB, 0, file_offsets[1], len(symbols), 3, 1, 8, 24)
    headers += section(section_name_offsets[2], _SHT_STRTAB, 0, file_offsets[2], len(strtab), 0, 0, 1, 0)
    headers += section(section_name_offsets[3], _SHT_STRTAB, 0, file_offsets[3], len(shstrtab), 0, 0, 1, 0)
    # an empty .note.GNU-stack: the weights need no executable stack
    headers += section(section_name_offsets[4], _SHT_PROGBITS, 0, file_offsets[4], 0, 0, 0, 1, 0)
    identification = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)  # 64-bit, little endian, version 1, System V ABI
    elf_header = identification + struct.pack(
        "<HHIQQQIHHHHHH", 1, _EM_AARCH64, 1, 0, 0, section_headers_at, 0, 64, 0, 0, 64, len(section_names) + 1, 4
    )
    return elf_header + bytes(body) + headers
