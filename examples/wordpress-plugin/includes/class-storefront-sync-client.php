<?php
/**
 * The plugin's use of Tessera (the native extension or the bundled copy, see
 * Storefront_Sync_Tessera): registration, API calls through the broker, and
 * WordPress's HTTP API as the transport.
 *
 * Everything protocol-related (what to send, signatures, retries, backoff,
 * clock skew, redirects, error mapping, what to persist, when to register
 * again) is Tessera's: its drivers run the core's step machine
 * (docs/HOST-CONTRACT.md). This class only supplies WordPress's pieces: the
 * site URL, the admin email, the HTTP transport, the storage and whether the
 * ownership proof can be served now.
 *
 * @package StorefrontSync
 */

defined( 'ABSPATH' ) || exit;

use Tessera as Native;
use StorefrontSync\Vendor\Tessera as Bundled;

/**
 * Talks to the partner's broker through Tessera.
 */
final class Storefront_Sync_Client {

	/**
	 * What the plugin asks the operator to grant at Stora: read orders,
	 * create contacts, record Timeline Events.
	 */
	const SCOPE = 'public.order:read public.contact:write public.timeline_event:write';

	/** The Timeline Event source of this plugin (`source.id`), as registered with Stora. */
	const EVENT_SOURCE = 'storefront_sync';

	/** The Timeline Event template of a website enquiry (`template.id`). */
	const ENQUIRY_TEMPLATE = 'website_enquiry';

	/**
	 * The plugin's reference on a contact it created, kept in the contact's
	 * Stora metadata instead of a mapping table on this site.
	 */
	const ENQUIRY_METADATA_KEY = 'storefront_sync.enquiry';

	/** The partner's broker (override in wp-config.php for a test broker). */
	const DEFAULT_BROKER_URL = 'https://broker.example.com';

	/**
	 * The broker base URL: the STOREFRONT_SYNC_BROKER_URL constant, else the
	 * partner's production broker; filterable.
	 *
	 * @return string
	 */
	public static function broker_url() {
		$url = defined( 'STOREFRONT_SYNC_BROKER_URL' ) ? (string) STOREFRONT_SYNC_BROKER_URL : self::DEFAULT_BROKER_URL;
		/**
		 * Filters the broker base URL used for a NEW registration (an existing
		 * registration keeps the broker it registered with).
		 *
		 * @param string $url Broker base URL.
		 */
		return (string) apply_filters( 'storefront_sync_broker_url', $url );
	}

	/**
	 * The transport Tessera's drivers call: Tessera's own adapter for
	 * WordPress's HTTP API, `Http\WordPressTransport` (the extension's, or
	 * the bundled copy's). It sends each request once through
	 * wp_remote_request() exactly as signed, with a 15 s timeout and
	 * `'redirection' => 0` (Tessera decides about retries; a 3xx comes back
	 * as the response and Tessera ends the operation with `redirected`), and
	 * throws the running implementation's TransportException only for a
	 * WP_Error (no response at all), its message without the request's header
	 * values or body.
	 *
	 * @return callable(array): array
	 */
	public static function transport() {
		$transport = Storefront_Sync_Tessera::class_name( 'Http\\WordPressTransport' );
		// With the authorization proxy a refresh must not be given up before
		// the proxy gives up on Stora (its upstream timeout is 15 s): Stora
		// may have rotated the pair by then, and an answer this site never
		// reads loses it (docs/SECURITY.md, "What this mode cannot protect").
		return new $transport( Storefront_Sync_Settings::is_proxy() ? 25 : 15 );
	}

	/**
	 * The persist callable: Tessera hands over the state whenever an
	 * operation changed it (a new installation's secret before it is sent, a
	 * learned clock offset, a dropped broker token); it is stored before
	 * Tessera goes on.
	 *
	 * @return callable(string): void
	 */
	public static function persister() {
		return static function ( $state_json ) {
			Storefront_Sync_State::save_json( $state_json );
		};
	}

	/**
	 * A fresh, unregistered installation for the service in the settings
	 * (Storefront_Sync_Settings: the broker, or the authorization proxy
	 * with Stora's API), sealing what it asks to persist under the
	 * wp-config.php key material (so even the first persist, the new
	 * secret, is stored sealed), with the site's lock
	 * (Storefront_Sync_State::with_lock()). The retry budget is kept short:
	 * an admin page load must not sleep for minutes on a busy service.
	 *
	 * @param array{mode: string, proxy_url: string, stora_api_url: string}|null $settings Settings (null: those in force).
	 * @return Native\Companion|Bundled\Companion
	 * @throws Native\Exception\TesseraException|Bundled\Exception\TesseraException When Tessera refuses the settings (invalid_url, insecure_broker_url).
	 */
	public static function create( $settings = null ) {
		$companion = Storefront_Sync_Tessera::companion();
		$config    = Storefront_Sync_Settings::companion_config( $settings ) + array(
			'retry' => array(
				'max_attempts'       => 3,
				'max_total_delay_ms' => 4000,
				'max_retry_after_ms' => 4000,
			),
		);
		return Storefront_Sync_State::with_lock( $companion::create( $config, Storefront_Sync_State::key_material() ) );
	}

	/**
	 * What this site registers with.
	 *
	 * @return array{site_url: string, admin_email: string, platform: string, plugin_version: string}
	 */
	public static function registration() {
		return array(
			'site_url'       => home_url(),
			'admin_email'    => (string) get_option( 'admin_email' ),
			'platform'       => 'wordpress',
			'plugin_version' => STOREFRONT_SYNC_VERSION,
		);
	}

	/**
	 * The serveProof callable of register() and siteMoved(). When the broker
	 * asks for an ownership proof, the state holding the challenge has just
	 * been persisted, and the REST route in Storefront_Sync_Ownership serves
	 * the proof from it: nothing to do but say so. Inside the activation
	 * request the plugin is not active yet for other requests (the broker's
	 * fetch would find no route), so the proof is deferred there and the next
	 * admin page load finishes the round.
	 *
	 * @param bool $activating Whether this runs inside the activation hook.
	 * @return callable(array): bool
	 */
	public static function proof_server( $activating = false ) {
		return static function ( array $proof ) use ( $activating ) {
			unset( $proof ); // Served by the REST route from the persisted state.
			return ! $activating;
		};
	}

	/**
	 * Registers the installation (a new one, one still pending, the proof
	 * round of an earlier attempt): Tessera's register() driver
	 * persists the secret before anything is sent, retries what is safe to
	 * retry and runs the ownership proof round.
	 *
	 * @param Native\Companion|Bundled\Companion $companion  The installation (created if new).
	 * @param bool                               $activating Whether this runs inside the activation hook.
	 * @return string The installation's status afterwards.
	 * @throws Native\Exception\TesseraException|Bundled\Exception\TesseraException What Tessera reports (rejected, rate limited, unavailable, redirected, …).
	 */
	public static function register( Native\Companion|Bundled\Companion $companion, $activating = false ) {
		$companion->register( self::registration(), self::transport(), null, self::persister(), self::proof_server( $activating ) );
		Storefront_Sync_State::update_health( array( 'registration_error' => null ) );
		return $companion->status();
	}

	/**
	 * "Reset this installation": the old installation is disconnected and
	 * deregistered at the broker (best effort, old secret), then the site
	 * registers afresh (a new secret, persisted before it is sent).
	 *
	 * @param Native\Companion|Bundled\Companion $companion The installation.
	 * @return array{disconnect: array, deregister: array, registration: array} What Tessera reports.
	 * @throws Native\Exception\TesseraException|Bundled\Exception\TesseraException When the new registration fails.
	 */
	public static function reset( Native\Companion|Bundled\Companion $companion ) {
		$result = $companion->reset( self::registration(), self::transport(), null, self::persister(), self::proof_server( false ) );
		Storefront_Sync_State::update_health( array( 'registration_error' => null ) );
		return $result;
	}

	/**
	 * A signed API call through the broker (Tessera's driver: retries,
	 * backoff, clock skew, reconnect mapping, persistence).
	 *
	 * @param Native\Companion|Bundled\Companion $companion The installation.
	 * @param array                              $request   `{method, path, headers?, body?}`, path below the broker URL.
	 * @return array{status: int, headers: array<string, string>, body: string}
	 * @throws Native\Exception\TesseraException|Bundled\Exception\TesseraException What Tessera reports.
	 */
	public static function call( Native\Companion|Bundled\Companion $companion, array $request ) {
		return self::noting_rate_limit(
			static fn () => $companion->call( $request, self::transport(), null, self::persister() )
		);
	}

	/**
	 * Runs one broker operation and notes in the plugin's health record
	 * whether the broker asked to slow down (the settings page then waits
	 * that long before calling again).
	 *
	 * @param callable(): mixed $operation The operation.
	 * @return mixed What it returned.
	 * @throws Native\Exception\TesseraException|Bundled\Exception\TesseraException What Tessera reports.
	 */
	private static function noting_rate_limit( callable $operation ) {
		try {
			$result = $operation();
		} catch ( Native\Exception\RateLimitedException | Bundled\Exception\RateLimitedException $e ) {
			Storefront_Sync_State::update_health( array( 'rate_limited_until' => time() + max( 1, $e->getRetryAfter() ) ) );
			throw $e;
		}
		Storefront_Sync_State::update_health( array( 'rate_limited_until' => null ) );
		return $result;
	}

	/**
	 * The operator's recent orders (broker `/api/orders` → Stora `/2025-09/orders`).
	 *
	 * @param Native\Companion|Bundled\Companion $companion The installation.
	 * @return array<int, array<string, mixed>>
	 * @throws Native\Exception\TesseraException|Bundled\Exception\TesseraException What Tessera reports.
	 */
	public static function recent_orders( Native\Companion|Bundled\Companion $companion ) {
		$response = self::call(
			$companion,
			array(
				'method' => 'GET',
				'path'   => '/api/orders?limit=10',
			)
		);
		$data = json_decode( $response['body'], true );
		return isset( $data['data'] ) && is_array( $data['data'] ) ? $data['data'] : array();
	}

	/**
	 * The example action, "do it, then record it": a website enquiry becomes
	 * a Stora contact (`POST /api/contacts`; Tessera adds the Idempotency-Key
	 * and keeps it across retries) carrying the plugin's reference in its
	 * metadata (`storefront_sync.enquiry` = a new UUID, checked by
	 * `validateMetadata()` before anything is sent), and Tessera's
	 * callAndRecord() then records a Timeline Event on the operator's Stora
	 * timeline whose `external.id` is that Idempotency-Key.
	 *
	 * The event is built before the contact exists, so it names no
	 * `contact.id`; its one variable is the enquirer's name (no email: the
	 * timeline holds as little personal data as it can). A failed event does
	 * not undo the contact: the result says how recording ended.
	 *
	 * @param Native\Companion|Bundled\Companion $companion The installation.
	 * @param string                             $name      Contact name.
	 * @param string                             $email     Contact email.
	 * @return array{contact: array<string, mixed>, enquiry: string, event_error: ?string} The created contact, the
	 *         plugin's reference, and the error code when the Timeline Event could not be recorded (else null).
	 * @throws Native\Exception\TesseraException|Bundled\Exception\TesseraException What Tessera reports about the contact.
	 */
	public static function send_enquiry( Native\Companion|Bundled\Companion $companion, $name, $email ) {
		$enquiry  = wp_generate_uuid4();
		$metadata = array( self::ENQUIRY_METADATA_KEY => $enquiry );
		$companion::validateMetadata( $metadata );
		$request  = array(
			'method'  => 'POST',
			'path'    => '/api/contacts',
			'headers' => array( 'content-type' => 'application/json' ),
			'body'    => (string) wp_json_encode(
				array(
					'name'     => $name,
					'email'    => $email,
					'metadata' => $metadata,
				)
			),
		);
		$event   = array(
			'source_id'    => self::EVENT_SOURCE,
			'template_id'  => self::ENQUIRY_TEMPLATE,
			'description'  => 'Website enquiry via Storefront Sync',
			'external_url' => self::event_url(),
			// Stora's limit for a variable value (Unicode characters).
			'variables'    => array( 'name' => mb_substr( $name, 0, 500 ) ),
		);
		$result  = self::noting_rate_limit(
			static fn () => $companion->callAndRecord( $request, $event, self::transport(), null, self::persister() )
		);
		$contact = json_decode( $result['response']['body'], true );
		return array(
			'contact'     => is_array( $contact ) ? $contact : array(),
			'enquiry'     => $enquiry,
			'event_error' => $result['event']['ok'] ? null : $result['event']['error']->getErrorCode(),
		);
	}

	/**
	 * Where the operator finds the enquiry on this site (the event's
	 * `external.url`): the plugin's settings page. Stora requires an https
	 * URL there (Tessera checks it too), so it is always the https form of
	 * the admin URL: what a production site serves anyway; a local test site
	 * on plain http records a link that needs https to open.
	 *
	 * @return string
	 */
	public static function event_url() {
		return set_url_scheme( admin_url( 'options-general.php?page=' . Storefront_Sync_Admin::PAGE ), 'https' );
	}
}
