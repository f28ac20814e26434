<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/**
 * One of Stora's events, as the broker received it from Stora's webhook
 * (Rust `events::StoraEvent`).
 */
final class StoraEvent
{
    /**
     * @param string $id Stora's event id (`evt_…`): the same event may be pulled again after a crash, never under another id
     * @param string $type the event type, e.g. `order.updated` (Rust `event_type`)
     * @param string $apiVersion the API version the event was rendered in, e.g. `2025-09`
     * @param int $createdAt when Stora created it, unix seconds
     * @param string $dataJson the event's `data` object as compact JSON (members in Stora's order, numbers as Stora wrote them)
     */
    public function __construct(
        public readonly string $id,
        public readonly string $type,
        public readonly string $apiVersion,
        public readonly int $createdAt,
        public readonly string $dataJson,
    ) {
    }
}
