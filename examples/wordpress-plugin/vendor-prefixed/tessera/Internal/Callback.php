<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/** A parsed connect callback (Rust `connect::Callback`). */
final class Callback
{
    /**
     * @param string $state the `state` parameter
     * @param string|null $code the `code` parameter (the single-use connect code), if any
     * @param string|null $error the `error` parameter, if any
     * @param string|null $codeContext proxy mode: the proxy's signed context of `code` (docs/PROTOCOL.md §13), if any
     */
    public function __construct(
        public readonly string $state,
        #[\SensitiveParameter] public readonly ?string $code,
        public readonly ?string $error,
        public readonly ?string $codeContext = null,
    ) {
    }

    /**
     * What `var_dump` shows: the connect code redacted.
     *
     * @return array<string, mixed>
     */
    public function __debugInfo(): array
    {
        return [
            'state' => $this->state,
            'code' => $this->code === null ? null : '[redacted]',
            'error' => $this->error,
            'code_context' => $this->codeContext === null ? null : '[redacted]',
        ];
    }
}
