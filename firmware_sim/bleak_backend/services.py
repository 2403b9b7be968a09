"""The bleak view of the bracelet's GATT database (built from firmware_sim.gatt_layout)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import cast

from bleak.assigned_numbers import CharacteristicPropertyName
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection

from firmware_sim.gatt_layout import ServiceSpec
from qmon.bracelet.gatt import CCCD


def build_service_collection(
    layout: Iterable[ServiceSpec], mtu: Callable[[], int], only: set[str] | None = None
) -> BleakGATTServiceCollection:
    """Services, characteristics and CCCDs as bleak objects; `only` keeps just those service UUIDs.

    Each bleak object's `obj` is the layout entry it was built from.
    """
    collection = BleakGATTServiceCollection()
    for spec in layout:
        if only is not None and spec.uuid not in only:
            continue
        service = BleakGATTService(spec, spec.handle, spec.uuid)
        collection.add_service(service)
        for char_spec in spec.characteristics:
            characteristic = BleakGATTCharacteristic(
                char_spec,
                char_spec.handle,
                char_spec.uuid,
                [cast(CharacteristicPropertyName, p) for p in char_spec.properties],
                lambda: mtu() - 3,  # ATT header: 3 bytes of every PDU are not payload
                service,
            )
            collection.add_characteristic(characteristic)
            if char_spec.cccd_handle is not None:
                collection.add_descriptor(
                    BleakGATTDescriptor(char_spec, char_spec.cccd_handle, CCCD, characteristic)
                )
    return collection
