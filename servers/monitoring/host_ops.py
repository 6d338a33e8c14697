"""The host the server runs on, read with psutil: works with no Prometheus at all.

Blocking psutil calls run in a worker thread (`host_stats` is awaited by the tool).
"""

from __future__ import annotations

import contextlib
import os
import socket
import time

import anyio
import psutil

from servers.monitoring.models import DiskUsage, HostStats, ProcessInfo

_GB = 1024**3
_SAMPLE_S = 0.25
# Pseudo and container-internal filesystems say nothing about disk space.
_SKIP_FSTYPES = {"tmpfs", "devtmpfs", "squashfs", "overlay", "proc", "sysfs", "cgroup", "cgroup2", "nsfs"}
_MAX_DISKS = 20


def _disks() -> list[DiskUsage]:
    disks: list[DiskUsage] = []
    seen: set[str] = set()
    for part in psutil.disk_partitions(all=False):
        if part.fstype in _SKIP_FSTYPES or part.mountpoint in seen:
            continue
        seen.add(part.mountpoint)
        try:
            usage = psutil.disk_usage(part.mountpoint)
        except OSError:
            continue
        disks.append(
            DiskUsage(
                mount=part.mountpoint,
                fstype=part.fstype,
                total_gb=round(usage.total / _GB, 2),
                used_percent=usage.percent,
            )
        )
    if not disks:  # containers often list only overlay: still report the root filesystem
        usage = psutil.disk_usage("/")
        disks.append(
            DiskUsage(mount="/", fstype="", total_gb=round(usage.total / _GB, 2), used_percent=usage.percent)
        )
    disks.sort(key=lambda d: -d.used_percent)
    return disks[:_MAX_DISKS]


def _top_processes(limit: int) -> list[ProcessInfo]:
    if limit == 0:
        return []
    procs = list(psutil.process_iter(["pid", "name", "username", "memory_percent", "memory_info"]))
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.cpu_percent(None)  # first call starts the measurement interval
    time.sleep(_SAMPLE_S)
    found: list[ProcessInfo] = []
    for proc in procs:
        try:
            cpu = proc.cpu_percent(None)
        except psutil.Error:
            continue
        info = proc.info
        memory = info.get("memory_info")
        found.append(
            ProcessInfo(
                pid=int(info["pid"]),
                name=str(info.get("name") or ""),
                user=str(info.get("username") or ""),
                cpu_percent=round(cpu, 1),
                memory_percent=round(float(info.get("memory_percent") or 0.0), 2),
                rss_mb=round(memory.rss / 2**20, 1) if memory is not None else 0.0,
            )
        )
    found.sort(key=lambda p: (-p.cpu_percent, -p.memory_percent))
    return found[:limit]


def read_host_stats(top_processes: int) -> HostStats:
    """One reading of the host; blocks for about a quarter of a second (CPU sampling)."""
    psutil.cpu_percent(None)
    processes = _top_processes(top_processes)
    if top_processes == 0:
        time.sleep(_SAMPLE_S)
    cpu = psutil.cpu_percent(None)
    load = os.getloadavg()
    memory = psutil.virtual_memory()
    swap = psutil.swap_memory()
    return HostStats(
        hostname=socket.gethostname(),
        uptime_seconds=round(time.time() - psutil.boot_time(), 1),
        cpu_count=psutil.cpu_count() or 1,
        cpu_percent=cpu,
        load_1m=round(load[0], 2),
        load_5m=round(load[1], 2),
        load_15m=round(load[2], 2),
        memory_total_gb=round(memory.total / _GB, 2),
        memory_available_gb=round(memory.available / _GB, 2),
        memory_used_percent=memory.percent,
        swap_used_percent=swap.percent,
        disks=_disks(),
        top_processes=processes,
    )


async def host_stats(top_processes: int) -> HostStats:
    """`read_host_stats` in a worker thread, so the event loop never blocks."""
    return await anyio.to_thread.run_sync(read_host_stats, top_processes)
