<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/**
 * "Do the action, then record it" (port of core/src/machine/record.rs): an
 * API call followed, once it succeeded, by the Timeline Event recording it.
 * The action's Idempotency-Key (the caller's, the core's for POST/PATCH, or
 * a UUID drawn when it succeeded) is the event's `external.id`; the event's
 * own key is `tle-` + that key.
 */
final class Record
{
    /** Starts `$action` as {@see Machine::startCall()} does, then records `$event`. @throws CoreError */
    public static function startRecordedCall(CompanionCore $c, ApiRequest $action, TimelineEvent $event): Call
    {
        $event->validate();
        $key = Http::findHeader($action->headers, 'idempotency-key');
        if ($key !== null) {
            TimelineEvent::checkExternalId(Text::trim($key));
        }
        $call = Machine::startCall($c, $action);
        $call->recordingEvent = $event;
        return $call;
    }

    /** A 2xx on a recorded call: after the action, send the event; after the event, complete. */
    public static function recordedSuccess(CompanionCore $c, Call $call, Response $resp, int $now, Entropy $entropy): Action
    {
        if ($call->op === Call::OP_RECORD) {
            return self::recorded($c, $call, RemoteStep::ok());
        }
        $key = $call->idempotencyKey ?? Sign::uuidV4($entropy->fill(16));
        $event = $call->recordingEvent;
        if ($event === null) {
            return Action::done(CoreError::internal('not a recorded call'));
        }
        $call->recordingResponse = $resp;
        try {
            $req = $event->toRequest($key);
        } catch (CoreError $e) {
            return self::recorded($c, $call, RemoteStep::failed($e));
        }
        $call->resetFor(Call::OP_RECORD, $req);
        return Machine::sendRequest($c, $call, $now, $entropy);
    }

    /** Ends a recorded call whose action succeeded. */
    public static function recorded(CompanionCore $c, Call $call, RemoteStep $event): Action
    {
        $c->state->refresh();
        return Action::done(self::recordedCompletion($call, $event));
    }

    private static function recordedCompletion(Call $call, RemoteStep $event): Completion|CoreError
    {
        $response = $call->recordingResponse;
        $call->recordingResponse = null;
        return $response === null ? CoreError::internal('no action response') : Completion::recorded($response, $event);
    }

    /** An error while recording still ends the call with the action's response, the event failed. */
    public static function recordedResult(Call $call, Completion|CoreError $result): Completion|CoreError
    {
        if ($result instanceof CoreError && $call->op === Call::OP_RECORD) {
            return self::recordedCompletion($call, RemoteStep::failed($result));
        }
        return $result;
    }
}
