"""Chip parameters: one frozen, validated dataclass and the named presets.

Every hardware number is a named field with its unit, set from a public source (cited on
the field) or, where no source gives it, marked as an assumption. Two fields of the e16
preset are fitted to two published measurements of a Parallella-16 (``dma_setup_cycles``
and ``elink_write_overhead_bytes``; see ``ChipConfig``); every other preset uses the same
per-core and per-link figures at its own clock.

The compute kernels are priced by one of two code profiles (``kernels``, see
``KERNEL_PROFILES`` and ``epiphany_sim.costs``); one field of the ``c`` profile,
``c_matmul_cycles_per_mac``, is fitted to a published Parallella-16 figure for a matrix
multiply written in C.

Sources: the Epiphany Architecture Reference (REV 14.03.11) for the meshes, routing, the
DMA engine, the core's pipeline and the memory map; the E16G301 and E64G401 datasheets for
the meshes, clocks and SRAM; the Parallella reference manual and the eLink protocol of the
open-source Parallella FPGA design (github.com/parallella/oh, ``elink/README.md``) for the
off-chip link, whose packets drop their address in a burst of writes to consecutive
doublewords (``elink_write_packet_bytes`` against ``elink_write_overhead_bytes``); the
Epiphany-V paper (arXiv:1610.01832) for the 1024-core preset.
"""

from __future__ import annotations

import dataclasses
import math
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from epiphany_sim import checks
from epiphany_sim.errors import ConfigError

ELINK_SIDES = ("east", "west", "north", "south")
TICKS_PER_CYCLE = 2
"""The interconnect's time grain: half a cycle, at which a 1.5-cycle router hop is exact."""
DRAM_ALIGNMENT_BYTES = 8
"""The DRAM window starts on a doubleword, the widest access of the architecture."""
CEILINGS: dict[str, int] = {
    "clock_hz": 10**12,
    "sram_bytes": 1 << 30,
    "sram_banks": 64,
    "dma_channels": 16,
    "dma_outstanding_reads": 64,
    "router_fifo_depth": 64,
    "loop_unroll": 1024,
    "cycles_per_activation": 10**6,
    "dma_setup_cycles": 10**6,
    "poll_cycles": 10**6,
    "call_cycles": 10**6,
    "branch_cycles": 10**6,
    "fpu_latency_cycles": 10**6,
    "host_sram_read_cycles_per_transaction": 10**6,
    "host_dram_write_cycles_per_transaction": 10**6,
    "host_dram_read_cycles_per_transaction": 10**6,
    "c_loop_unroll": 1024,
    "c_loop_trip_cycles": 10**6,
    "c_dot_cycles_per_element": 10**6,
    "c_sparse_dot_cycles_per_element": 10**6,
    "c_axpy_cycles_per_element": 10**6,
    "c_sum_cycles_per_element": 10**6,
    "c_copy_cycles_per_element": 10**6,
    "c_fill_cycles_per_element": 10**6,
    "c_elementwise_cycles_per_element": 10**6,
    "c_matmul_cycles_per_mac": 10**6,
    "c_matmul_tile_cycles": 10**6,
}
"""Upper bounds far beyond any Epiphany (1 GHz, 64 KB in 4 banks, 2 DMA channels, hundreds
of cycles per operation at most) that keep a simulation's arrays and its integer clock
within reach.
SRAM goes up to 1 GB, past the 1 MB a core's slot of the address map holds, because the
single-core baseline of a speedup is given room for any network."""
KERNEL_PROFILES: dict[str, str] = {
    "asm": "kernels as hand-scheduled assembly: loads paired with the multiply-adds, one multiply-add a cycle",
    "c": "kernels as e-gcc compiles C loops: a cycle per instruction, loop overhead per element (fitted on [R])",
}
"""The kernel code profiles ``ChipConfig.kernels`` names, each with one line saying what it prices."""
DEFAULT_KERNELS = "asm"
MAX_FABRIC_CYCLES = 1024
"""The most cycles a hop, a transaction on a link, the eLink crossing or a DRAM access may
take (the hardware's are 1.5 to about 100): the interconnect keeps a timing wheel as long
as the slowest of them."""
MIN_CLOCK_HZ = 1e3
"""The slowest clock taken: below it a cycle's nanoseconds stop being a useful number."""
_FABRIC_TIMES = (
    "hop_latency_cycles",
    "write_overhead_cycles",
    "elink_latency_cycles",
    "cmesh_cycles_per_transaction",
    "xmesh_cycles_per_transaction",
    "rmesh_cycles_per_request",
    "elink_write_cycles_per_transaction",
    "elink_write_packet_cycles",
    "elink_read_cycles_per_request",
    "elink_read_burst_cycles_per_request",
    "dma_cycles_per_transaction",
    "dram_latency_cycles",
    "copy_cycles_per_transaction",
    "host_sram_write_cycles_per_transaction",
    "poll_cycles",
)


@dataclass(frozen=True)
class ChipConfig:
    """The hardware of one Epiphany chip.

    Attributes:
        name: preset name, shown in reports.
        rows: mesh rows (E16G301: 4; E64G401: 8).
        cols: mesh columns.
        clock_hz: core and mesh clock (600 MHz on the Parallella-16; the E16G301 datasheet
            allows 1 GHz; E64G401: 800 MHz).
        sram_bytes: local SRAM per core (32 KB on both datasheets).
        sram_banks: banks the SRAM is split into, equal in size (4 x 8 KB, reference).
        code_bytes: SRAM reserved at the start of bank 0 for interrupt vectors and code
            (assumed: 4 KB, the bank-0 share the SDK's linker scripts give code).
        transaction_bytes: payload of one mesh transaction (a doubleword, reference); the
            fabric moves 8-byte transactions, so no other value is accepted.
        cmesh_bytes_per_cycle: on-chip write network bandwidth per directed link (one
            transaction per cycle, reference; 64 GB/s bisection at 1 GHz, E16G301 datasheet).
        xmesh_bytes_per_cycle: bandwidth per directed link of the mesh that carries writes
            across the chip boundary (its routers are the cMesh's kind; the eLink behind
            them limits off-chip traffic).
        rmesh_cycles_per_request: cycles a read request occupies each rMesh link (one read
            request every 8 cycles, reference).
        hop_latency_cycles: latency of one router hop on any mesh (1.5 cycles, reference;
            1.5 ns per hop at 1 GHz, E16G301 datasheet).
        router_fifo_depth: transactions each router input port holds. The reference gives
            the mesh one stage of buffering and one of pipelining per hop; here a slot is
            claimed when a transaction starts across the link that feeds it, so two slots
            are the least that lets one stream run at the full link rate.
        write_overhead_cycles: fixed cost added once to every message (0: the reference
            names none beyond hops and serialisation).
        dma_channels: DMA channels per core (2, reference).
        dma_cycles_per_transaction: cycles the DMA engine spends per transaction it issues.
            The reference's peak is one per cycle; no published measurement comes near it,
            and we assume one every 2 cycles (the engine reads the source doubleword from a
            local bank and writes it to the mesh in turns).
        dma_setup_cycles: core cycles to start a DMA transfer and to see it finish:
            computing and storing the six-word descriptor, starting the channel, polling its
            status. Fitted on e16: an 8 KB DMA transfer to a neighbouring core takes 2,404
            cycles on a Parallella-16 (1,949.88 MB/s in the e-bandwidth-test's MiB at
            600 MHz); the engine starts the 1,024 transactions 2 cycles apart, the last
            2,046 cycles after the first, which lands 2.5 cycles after it starts, and one
            5-cycle iteration of the poll sees it: the rest, 350.5 cycles, is setup.
        dma_outstanding_reads: read requests a DMA channel keeps in flight before it waits
            for a reply (assumed 4: the reference says a channel waits for the last data to
            return but publishes no bound).
        poll_cycles: cycles of one iteration of a loop polling a local flag: a load whose
            result the integer unit can use a cycle later, a compare, a taken branch (3
            cycles), from the reference's pipeline table: 5.
        call_cycles: cycles to call a compute kernel and return from it, its setup included
            (two taken branches of 3 cycles and about 4 instructions of setup: 10).
        branch_cycles: the penalty of a taken branch (3 cycles, reference), paid once per
            trip of an unrolled loop.
        fpu_latency_cycles: cycles before an FPU result can feed the next FPU instruction
            (3, plus one with rounding: 4, reference).
        loop_unroll: elements a compute loop handles per trip (assumed: 8, as a compiler
            unrolls a loop of doubleword loads four times).
        copy_cycles_per_transaction: cycles a core spends per transaction it copies out of its
            SRAM with loads and stores (a ``memcpy`` to another core, a hidden value it forwards):
            the load of the doubleword, its store and the loop around them, all on the one
            load/store unit. Fitted on e16: ``memcpy`` of 8 KB from a core to its east neighbour
            takes 9,299 cycles on a Parallella-16 (504.09 MB/s as e-bandwidth-test prints it); its
            1,024 transactions 9 cycles apart, the call and the last store give 9,218 cycles, 0.9%
            fewer (9.0: the half-cycle grain's closest).
        host_sram_write_cycles_per_transaction: cycles of the chip's clock the host spends per
            transaction it writes into a core's SRAM through the host library (``e_write``: the
            ARM's uncached stores cross the FPGA's bus bridge to the eLink one at a time). Fitted
            on e16: the host writes 8 KB into a core in 320,614 cycles (14.62 MB/s, e-bandwidth-test
            on a Parallella-16): 313 cycles per transaction.
        host_sram_read_cycles_per_transaction: cycles the host spends per transaction it reads from
            a core's SRAM before it issues the load, whose round trip it then waits for (assumed
            equal to the write's: the same library call and bus bridge; the published read,
            17.85 MB/s, is compared in docs/fidelity.md, not fitted).
        host_dram_write_cycles_per_transaction: cycles the host spends per transaction it writes
            into the shared DRAM window (uncached stores into its own memory, no eLink). Fitted on
            e16: 8 KB in 46,592 cycles (100.71 MB/s, e-bandwidth-test): 45.5 per transaction.
        host_dram_read_cycles_per_transaction: cycles the host spends per transaction it reads
            from the DRAM window (assumed equal to the write's; the published read, 135.42 MB/s,
            is compared in docs/fidelity.md, not fitted).
        cycles_per_activation: cycles to evaluate one activation function (software exp
            and divide; the FPU has no transcendental unit). Assumed: 20; the reference
            gives no figure.
        kernels: the kernel code profile that prices every compute kernel (``KERNEL_PROFILES``):
            ``asm``, hand-scheduled assembly, or ``c``, the loops e-gcc makes of C, priced by
            the ``c_`` fields below (``epiphany_sim.costs`` derives each).
        c_loop_unroll: elements a compiled loop handles per trip (1: e-gcc at ``-O2`` and
            ``-O3`` does not unroll a loop unless told to with ``-funroll-loops``).
        c_loop_trip_cycles: cycles a compiled loop issues per trip besides the taken-branch
            penalty: the counter's subtract, which sets the flags the branch tests, and the
            branch (one instruction a cycle, reference: 2).
        c_dot_cycles_per_element: a compiled dot product's work per product: two word loads on
            the one load/store unit (C loads a float at a time) and the FMADD in a cycle of its
            own, not paired with them: 3. A strided operand costs the same: its load
            post-increments its pointer by a register.
        c_sparse_dot_cycles_per_element: per stored connection: load the weight and the input's
            index, shift the index to a byte offset, load the input it names, FMADD: 5.
        c_axpy_cycles_per_element: ``y += a * x``: load ``x``, load ``y``, FMADD, store ``y``: 4.
        c_sum_cycles_per_element: a sum: a load and an add: 2.
        c_copy_cycles_per_element: a copy: a word load and a word store: 2.
        c_fill_cycles_per_element: a fill: one word store: 1.
        c_elementwise_cycles_per_element: the load and the store around an element's dependent
            FPU operations (each operation adds ``fpu_latency_cycles``: a compiled loop does not
            overlap one element's operations with the next's): 2.
        c_matmul_cycles_per_mac: a compiled block matrix multiply's cycles per multiply-add (C
            code keeping a 4 x 4 tile of sums in registers, four steps of the inner dimension
            per trip, as the threaded-MPI Cannon example of [R] does). Counted: per trip of 64
            multiply-adds, 32 word loads and 80 FPU instructions (C adds four products to a
            sum as written: a multiply, three FMADDs and an add), 8 pointer updates, the
            counter and the branch and its penalty: 125 cycles, 1.953 per multiply-add. Fitted
            on [R] and on nothing else: Cannon's SGEMM written in C reaches 9.1 GFLOPS on
            the 16 cores of a Parallella at 600 MHz, which ``microbench matmul --n 128
            --kernels c`` reproduces with 130 cycles per trip, 2.03125 per multiply-add.
        c_matmul_tile_cycles: per 4 x 4 tile of sums, loading and storing them a word at a time:
            16 loads and 16 stores, 32.
        elink_bytes_per_cycle: off-chip link bandwidth per direction (8-bit DDR at half the
            core clock: 1 byte per cycle, Parallella manual; 8 GB/s off chip at 1 GHz over
            four links, E16G301 datasheet).
        elink_write_overhead_bytes: bytes the eLink sends per write transaction beyond its
            8 bytes of data when the transaction continues a burst (the eLink protocol sends
            only the data of a doubleword write that follows the previous one to the next
            address, bytes B06-B13 of its packet). Fitted on e16: a DMA write of 8 KB from a
            core into the DRAM takes 9,504 cycles on a Parallella-16 (493 MB/s as printed):
            with the fitted setup, a first transaction of a full packet and 1,023 of 9 bytes
            take 9,581.5 cycles on the eLink, 0.8% more, the closest the half-cycle grain
            allows: 1 byte.
        elink_write_packet_bytes: bytes a write transaction that does not continue a burst
            takes on the eLink: its whole packet, control and destination address (6 bytes)
            and its 8 bytes of data: 14 (eLink protocol, bytes B00-B13). A write continues a
            burst when the previous write on the same path of the eLink came from the same
            endpoint to the previous doubleword; any other pays this.
        elink_read_request_bytes: bytes a read request takes on the eLink (control, the
            address it reads and the return address: 14, eLink protocol).
        elink_read_burst_request_bytes: bytes a read request takes on the eLink when it
            follows the previous request on the same path from the same endpoint to the next
            doubleword. The protocol bursts only doubleword writes (the transmitter's burst
            detection, ``elink/hdl/etx_protocol.v`` of the same design, asks for a write), so a read
            request pays its whole packet either way: 14.
        elink_latency_cycles: extra latency of crossing the chip boundary once (0 assumed).
        elink_side: mesh edge the eLink to the host attaches to (the DRAM window at
            0x8e000000 lies east of the E16's cores: east).
        dram_bytes: size of the shared DRAM window (32 MB, Parallella board files).
        dram_latency_cycles: cycles from a read request reaching the DRAM until its reply
            leaves (assumed 100; no published figure).
        dram_base_address: Epiphany address of the DRAM window (0x8e000000, Parallella).
        first_row: mesh row of core 0 in the global address map (32 on the E16G301).
        first_col: mesh column of core 0 in the global address map (8).
        avoid_cores: ``(row, col)`` of cores a mapping may not use: a faulty core, or one another
            program holds. Their routers still route (a transaction passes through them as
            through any other); no program runs on them and no buffer is placed in their SRAM.
            Kept sorted; each inside the mesh, none twice, and at least one core left.
    """

    name: str = "e16"
    rows: int = 4
    cols: int = 4
    clock_hz: float = 600e6
    sram_bytes: int = 32 * 1024
    sram_banks: int = 4
    code_bytes: int = 4 * 1024
    transaction_bytes: int = 8
    cmesh_bytes_per_cycle: float = 8.0
    xmesh_bytes_per_cycle: float = 8.0
    rmesh_cycles_per_request: float = 8.0
    hop_latency_cycles: float = 1.5
    router_fifo_depth: int = 2
    write_overhead_cycles: float = 0.0
    dma_channels: int = 2
    dma_cycles_per_transaction: float = 2.0
    dma_setup_cycles: float = 350.5
    dma_outstanding_reads: int = 4
    poll_cycles: float = 5.0
    call_cycles: float = 10.0
    branch_cycles: float = 3.0
    fpu_latency_cycles: float = 4.0
    loop_unroll: int = 8
    copy_cycles_per_transaction: float = 9.0
    host_sram_write_cycles_per_transaction: float = 313.0
    host_sram_read_cycles_per_transaction: float = 313.0
    host_dram_write_cycles_per_transaction: float = 45.5
    host_dram_read_cycles_per_transaction: float = 45.5
    cycles_per_activation: float = 20.0
    kernels: str = DEFAULT_KERNELS
    c_loop_unroll: int = 1
    c_loop_trip_cycles: float = 2.0
    c_dot_cycles_per_element: float = 3.0
    c_sparse_dot_cycles_per_element: float = 5.0
    c_axpy_cycles_per_element: float = 4.0
    c_sum_cycles_per_element: float = 2.0
    c_copy_cycles_per_element: float = 2.0
    c_fill_cycles_per_element: float = 1.0
    c_elementwise_cycles_per_element: float = 2.0
    c_matmul_cycles_per_mac: float = 130 / 64
    c_matmul_tile_cycles: float = 32.0
    elink_bytes_per_cycle: float = 1.0
    elink_write_overhead_bytes: float = 1.0
    elink_write_packet_bytes: float = 14.0
    elink_read_request_bytes: float = 14.0
    elink_read_burst_request_bytes: float = 14.0
    elink_latency_cycles: float = 0.0
    elink_side: str = "east"
    dram_bytes: int = 32 * 1024 * 1024
    dram_latency_cycles: float = 100.0
    dram_base_address: int = 0x8E000000
    first_row: int = 32
    first_col: int = 8
    avoid_cores: tuple[tuple[int, int], ...] = ()

    def __post_init__(self) -> None:
        self._check_types_and_ranges()
        self._check_avoid_cores()
        self._check_fabric_times()
        self._check_layout()
        self._check_elink_bursts()

    def _check_avoid_cores(self) -> None:
        """``avoid_cores`` as a sorted tuple of ``(row, col)`` pairs (a TOML or JSON file gives lists),
        each inside the mesh, none twice, at least one core left usable."""
        given = self.avoid_cores
        if isinstance(given, str | bytes) or not isinstance(given, list | tuple):
            raise ConfigError(f"chip field avoid_cores must be a list of [row, col] pairs, got {given!r}")
        pairs: list[tuple[int, int]] = []
        for pair in given:
            if isinstance(pair, str | bytes) or not isinstance(pair, list | tuple) or len(pair) != 2:
                raise ConfigError(f"chip field avoid_cores holds {pair!r}: each avoided core is a [row, col] pair")
            row, col = (checks.integer("chip field avoid_cores", value, ConfigError) for value in pair)
            pairs.append((row, col))
        for row, col in pairs:
            if not (0 <= row < self.rows and 0 <= col < self.cols):
                raise ConfigError(f"avoided core ({row}, {col}) is outside the {self.rows}x{self.cols} mesh")
        repeated = sorted({p for p in pairs if pairs.count(p) > 1})
        if repeated:
            raise ConfigError(f"avoided core {repeated[0]} is listed twice")
        if len(pairs) >= self.rows * self.cols:
            raise ConfigError(f"avoid_cores leaves none of the {self.rows * self.cols} cores to map onto")
        object.__setattr__(self, "avoid_cores", tuple(sorted(pairs)))

    def _check_types_and_ranges(self) -> None:
        """Every field of its type, and within its bounds."""
        for declared in dataclasses.fields(self):
            value = getattr(self, declared.name)
            if declared.name == "avoid_cores":  # checked by _check_avoid_cores
                continue
            if declared.type == "int":
                checks.integer(f"chip field {declared.name}", value, ConfigError)
            elif declared.type == "float":
                checks.number(f"chip field {declared.name}", value, ConfigError)
            elif not isinstance(value, str):
                raise ConfigError(f"chip field {declared.name} must be text, got {value!r}")
        positive = (
            "rows cols clock_hz sram_bytes sram_banks transaction_bytes "
            "cmesh_bytes_per_cycle xmesh_bytes_per_cycle elink_bytes_per_cycle dram_bytes dma_channels "
            "rmesh_cycles_per_request hop_latency_cycles router_fifo_depth dma_cycles_per_transaction "
            "dma_outstanding_reads poll_cycles loop_unroll elink_read_request_bytes copy_cycles_per_transaction "
            "host_sram_write_cycles_per_transaction c_loop_unroll elink_read_burst_request_bytes"
        ).split()
        for field in positive:
            if getattr(self, field) <= 0:
                raise ConfigError(f"chip field {field} must be > 0, got {getattr(self, field)!r}")
        for field, ceiling in CEILINGS.items():
            if getattr(self, field) > ceiling:
                raise ConfigError(f"chip field {field} must be <= {ceiling}, got {getattr(self, field)!r}")
        if self.clock_hz < MIN_CLOCK_HZ:
            raise ConfigError(f"chip field clock_hz must be >= {MIN_CLOCK_HZ:g}, got {self.clock_hz!r}")
        non_negative = (
            "code_bytes cycles_per_activation write_overhead_cycles elink_latency_cycles dram_latency_cycles "
            "first_row first_col dma_setup_cycles call_cycles branch_cycles fpu_latency_cycles "
            "elink_write_overhead_bytes host_sram_read_cycles_per_transaction host_dram_write_cycles_per_transaction "
            "host_dram_read_cycles_per_transaction "
            "c_loop_trip_cycles c_dot_cycles_per_element c_sparse_dot_cycles_per_element "
            "c_axpy_cycles_per_element c_sum_cycles_per_element c_copy_cycles_per_element c_fill_cycles_per_element "
            "c_elementwise_cycles_per_element c_matmul_cycles_per_mac c_matmul_tile_cycles"
        ).split()
        for field in non_negative:
            if getattr(self, field) < 0:
                raise ConfigError(f"chip field {field} must be >= 0, got {getattr(self, field)!r}")

    def _check_elink_bursts(self) -> None:
        """A transaction that continues a burst costs the eLink no more than a whole packet."""
        burst = self.transaction_bytes + self.elink_write_overhead_bytes
        if self.elink_write_packet_bytes < burst:
            raise ConfigError(
                f"chip field elink_write_packet_bytes must be >= the {burst:g} bytes of a write in a burst "
                f"(transaction_bytes + elink_write_overhead_bytes), got {self.elink_write_packet_bytes!r}"
            )
        if self.elink_read_burst_request_bytes > self.elink_read_request_bytes:
            raise ConfigError(
                "chip field elink_read_burst_request_bytes must be <= elink_read_request_bytes "
                f"({self.elink_read_request_bytes:g}), got {self.elink_read_burst_request_bytes!r}"
            )

    def _check_fabric_times(self) -> None:
        """Every time the interconnect counts: within its range, and on its half-cycle grain."""
        for field in _FABRIC_TIMES:
            value = getattr(self, field)
            if value > MAX_FABRIC_CYCLES:
                raise ConfigError(
                    f"{field} is {value:g} cycles, more than the {MAX_FABRIC_CYCLES} the interconnect allows: "
                    "change the chip fields that set it"
                )
            if not float(value * TICKS_PER_CYCLE).is_integer():
                raise ConfigError(
                    f"{field} is {value:g} cycles, not a multiple of the interconnect's "
                    f"{1 / TICKS_PER_CYCLE:g}-cycle time grain: change the chip fields that set it"
                )

    def _check_layout(self) -> None:
        """Transactions, SRAM banks, the eLink's edge and the address map."""
        if self.transaction_bytes != 8:
            raise ConfigError(
                f"transaction_bytes must be 8 (a doubleword, the one transaction size the mesh moves), "
                f"got {self.transaction_bytes}: set the links' bytes per cycle to change their speed"
            )
        if self.sram_bytes % self.sram_banks:
            raise ConfigError(f"sram_bytes {self.sram_bytes} does not split into {self.sram_banks} equal banks")
        if self.code_bytes >= self.sram_bytes:
            raise ConfigError(f"code_bytes {self.code_bytes} leaves no SRAM for data (sram_bytes {self.sram_bytes})")
        if self.kernels not in KERNEL_PROFILES:
            raise ConfigError(f"kernels must be one of {', '.join(KERNEL_PROFILES)}, got {self.kernels!r}")
        if self.elink_side not in ELINK_SIDES:
            raise ConfigError(f"elink_side must be one of {ELINK_SIDES}, got {self.elink_side!r}")
        if self.first_row + self.rows > 64 or self.first_col + self.cols > 64:
            raise ConfigError("the mesh does not fit the 6-bit row/column fields of the address map")
        checks.address("chip field dram_base_address", self.dram_base_address, ConfigError, DRAM_ALIGNMENT_BYTES)
        if self.dram_base_address + self.dram_bytes > 1 << checks.ADDRESS_BITS:
            raise ConfigError(
                f"the DRAM window (dram_base_address 0x{self.dram_base_address:08x}, dram_bytes "
                f"{self.dram_bytes}) runs past the end of the {checks.ADDRESS_BITS}-bit address map"
            )

    @property
    def n_cores(self) -> int:
        return self.rows * self.cols

    @property
    def usable_cores(self) -> int:
        """Cores a mapping may use: every core but the avoided ones."""
        return self.n_cores - len(self.avoid_cores)

    @property
    def bank_bytes(self) -> int:
        return self.sram_bytes // self.sram_banks

    @property
    def data_bytes(self) -> int:
        """SRAM per core left for data once code is loaded."""
        return self.sram_bytes - self.code_bytes

    @property
    def cycle_ns(self) -> float:
        return 1e9 / self.clock_hz

    @property
    def elink_write_cycles_per_transaction(self) -> float:
        """Cycles a write transaction that continues a burst takes on the eLink, its overhead
        included."""
        return (self.transaction_bytes + self.elink_write_overhead_bytes) / self.elink_bytes_per_cycle

    @property
    def elink_write_packet_cycles(self) -> float:
        """Cycles a write transaction that does not continue a burst takes on the eLink."""
        return self.elink_write_packet_bytes / self.elink_bytes_per_cycle

    @property
    def elink_read_cycles_per_request(self) -> float:
        """Cycles a read request that does not continue a burst takes on the eLink."""
        return self.elink_read_request_bytes / self.elink_bytes_per_cycle

    @property
    def elink_read_burst_cycles_per_request(self) -> float:
        """Cycles a read request that continues a burst takes on the eLink."""
        return self.elink_read_burst_request_bytes / self.elink_bytes_per_cycle

    @property
    def cmesh_cycles_per_transaction(self) -> float:
        return self.transaction_bytes / self.cmesh_bytes_per_cycle

    @property
    def xmesh_cycles_per_transaction(self) -> float:
        return self.transaction_bytes / self.xmesh_bytes_per_cycle

    def transactions(self, n_bytes: int) -> int:
        """Transactions needed for a message of ``n_bytes`` (at least one)."""
        return max(1, math.ceil(n_bytes / self.transaction_bytes))

    def cycles_to_us(self, cycles: float) -> float:
        return cycles / self.clock_hz * 1e6

    def replace(self, **changes: Any) -> ChipConfig:
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ConfigError(f"unknown chip field(s): {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


E16 = ChipConfig()
E64 = ChipConfig(name="e64", rows=8, cols=8, clock_hz=800e6)
EPIPHANY_V = ChipConfig(
    name="epiphany-v", rows=32, cols=32, clock_hz=1e9, sram_bytes=64 * 1024, first_row=0, first_col=0
)
PRESETS: dict[str, ChipConfig] = {c.name: c for c in (E16, E64, EPIPHANY_V)}

_MESH_RE = re.compile(r"^(\d+)x(\d+)$")


def chip_from_name(name: str) -> ChipConfig:
    """A preset by name (``e16``, ``e64``, ``epiphany-v``) or an ``RxC`` mesh of E16 cores."""
    key = name.strip().lower()
    if key in PRESETS:
        return PRESETS[key]
    match = _MESH_RE.match(key)
    if match:
        rows, cols = int(match.group(1)), int(match.group(2))
        return E16.replace(name=key, rows=rows, cols=cols)
    raise ConfigError(f"unknown chip {name!r}: use one of {', '.join(PRESETS)} or RxC such as 2x3")


def load_chip(
    name: str = "e16",
    toml_path: str | Path | None = None,
    kernels: str | None = None,
    avoid_cores: str | None = None,
) -> ChipConfig:
    """The named chip with the overrides of a TOML file applied, then ``kernels`` and ``avoid_cores``.

    The file holds chip fields at top level or under a ``[chip]`` table, for example
    ``clock_hz = 1e9`` or ``avoid_cores = [[0, 3], [5, 5]]``. A ``preset`` key there replaces
    ``name``'s preset. ``kernels`` (the command line's ``--kernels``) and ``avoid_cores`` (its
    ``--avoid-cores``, text that ``parse_cores`` reads), when given, replace the file's.
    """
    chip = _chip_file(chip_from_name(name), toml_path)
    if kernels is not None:
        chip = chip.replace(kernels=kernels)
    return chip if avoid_cores is None else chip.replace(avoid_cores=parse_cores(avoid_cores))


def parse_cores(text: str) -> tuple[tuple[int, int], ...]:
    """Core coordinates written ``R,C;R,C;...`` (``0,3;5,5``); an empty text names none."""
    cores: list[tuple[int, int]] = []
    for item in filter(None, (part.strip() for part in text.split(";"))):
        row, sep, col = item.partition(",")
        if not sep or not row.strip().isdigit() or not col.strip().isdigit():
            raise ConfigError(f"core {item!r} is not ROW,COL (two whole numbers, such as 0,3)")
        cores.append((int(row), int(col)))
    return tuple(cores)


def _chip_file(chip: ChipConfig, toml_path: str | Path | None) -> ChipConfig:
    """``chip`` with the overrides of the TOML file at ``toml_path`` (none if ``None``)."""
    if toml_path is None:
        return chip
    path = Path(toml_path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"chip config {path} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"cannot read chip config {path}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"chip config {path} is not valid TOML: {exc}") from None
    data = data.get("chip", data)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: [chip] must be a table of chip fields")
    data = dict(data)
    if "preset" in data:
        chip = chip_from_name(str(data.pop("preset")))
    fields = {f.name: f for f in dataclasses.fields(ChipConfig)}
    for key, value in data.items():
        if key not in fields:
            raise ConfigError(f"{path}: unknown chip field {key!r}")
        default = getattr(chip, key)
        if key == "avoid_cores":  # a list of [row, col] pairs, checked by ChipConfig
            continue
        accepted = (int, float) if isinstance(default, float) else (type(default),)
        if isinstance(value, bool) or not isinstance(value, accepted):
            raise ConfigError(f"{path}: {key} must be {type(default).__name__}, got {value!r}")
        data[key] = type(default)(value)
    return chip.replace(**data)
