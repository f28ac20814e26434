<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/** The verified parameters of a connect URL (Rust `connect::ConnectParams`). */
final class ConnectParams
{
    /**
     * @param string $installId the installation
     * @param string $state the plugin's `state`, to echo back on the return URL
     * @param string $returnUrl where to send the browser back
     * @param string|null $scope requested scope, if any
     * @param int $ts issue time, unix seconds
     */
    public function __construct(
        public readonly string $installId,
        public readonly string $state,
        #[\SensitiveParameter] public readonly string $returnUrl,
        public readonly ?string $scope,
        public readonly int $ts,
    ) {
    }
}
