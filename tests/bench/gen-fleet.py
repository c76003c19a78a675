#!/usr/bin/env python3
"""gen-fleet.py N OUT.xml - a libvirt test-driver node file with N guests.

Guests are named g00000, g00001, ... with distinct uuids; every third one is shut off
(<test:runstate>5</test:runstate>), the others run. Each has one disk and one
interface, like a small real guest. Use it as test:///ABS/OUT.xml, or define its
domains into a private libvirtd (bench_tool populate)."""
import sys
import uuid

TEST_NS = "http://libvirt.org/schemas/domain/test/1.0"


def domain(i: int) -> str:
    name = f"g{i:05d}"
    u = uuid.UUID(int=(0xD0F5 << 112) | i)
    shutoff = i % 3 == 2
    mac = f"52:54:00:{(i >> 16) & 0xFF:02x}:{(i >> 8) & 0xFF:02x}:{i & 0xFF:02x}"
    vcpus = 1 + i % 4
    mem = 65536 * (1 + i % 8)
    runstate = "    <test:runstate>5</test:runstate>\n" if shutoff else ""
    return f"""  <domain type='test' xmlns:test='{TEST_NS}'>
    <name>{name}</name>
    <uuid>{u}</uuid>
    <memory unit='KiB'>{mem}</memory>
    <currentMemory unit='KiB'>{mem}</currentMemory>
    <vcpu>{vcpus}</vcpu>
    <os><type arch='x86_64'>hvm</type></os>
    <devices>
      <disk type='file' device='disk'>
        <driver name='qemu' type='qcow2'/>
        <source file='/var/lib/libvirt/images/{name}.qcow2'/>
        <target dev='vda' bus='virtio'/>
      </disk>
      <interface type='network'>
        <mac address='{mac}'/>
        <source network='default'/>
        <model type='virtio'/>
      </interface>
    </devices>
{runstate}  </domain>
"""


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    n = int(sys.argv[1])
    with open(sys.argv[2], "w", encoding="utf-8") as f:
        f.write("<node>\n")
        f.write("  <cpu><mhz>2000</mhz><model>x86_64</model><active>64</active>"
                "<total>64</total><nodes>1</nodes><sockets>1</sockets><cores>64</cores>"
                "<threads>1</threads></cpu>\n")
        f.write("  <memory>268435456</memory>\n")
        for i in range(n):
            f.write(domain(i))
        f.write("</node>\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
