<?php

declare(strict_types=1);

namespace Tessera\Pure\Internal;

/**
 * Why a request, a connect URL, an uninstall ticket or an ownership proof did
 * not verify, with the answer the broker sends for it (Rust
 * `verify::Refusal`): the status, the `error` code, the headers (`date` on
 * `signature_expired`, from which the plugin learns its clock offset) and the
 * JSON body. Every broker answers a failed verification with exactly this.
 */
final class Refusal extends \Exception
{
    /**
     * @param CoreError $error what went wrong
     * @param int $now broker time of the verification (unix seconds), for `date`
     */
    public function __construct(private readonly CoreError $error, private readonly int $now)
    {
        parent::__construct($this->status() . ' ' . $this->code() . ': ' . $error->getMessage());
        // An internal value: it keeps no frames (their arguments may hold key material).
        static $trace = null;
        ($trace ??= new \ReflectionProperty(\Exception::class, 'trace'))->setValue($this, []);
    }

    /** What went wrong. */
    public function error(): CoreError
    {
        return $this->error;
    }

    /** The HTTP status to answer with (401 signature, 503 full replay store, 403 ownership proof, 400 malformed). */
    public function status(): int
    {
        return $this->error->wireCode()[0];
    }

    /** The `error` code of the answer's body. */
    public function code(): string
    {
        return $this->error->wireCode()[1];
    }

    /**
     * The headers to answer with, names in lowercase: `content-type`,
     * `cache-control: no-store` and, on `signature_expired`, `date` (the
     * broker's time as an IMF-fixdate).
     *
     * @return list<array{0: string, 1: string}>
     */
    public function headers(): array
    {
        $headers = [['content-type', 'application/json'], ['cache-control', 'no-store']];
        if ($this->error->code() === 'signature_expired') {
            $headers[] = ['date', HttpDate::format($this->now)];
        }
        return $headers;
    }

    /** The answer's body: `{"error": code, "error_description": message}` (never holds a secret). */
    public function body(): string
    {
        $obj = new ObjectWriter();
        $obj->str('error', $this->code());
        $obj->str('error_description', $this->error->getMessage());
        return $obj->end();
    }
}
