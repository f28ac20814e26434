<?php
/**
 * Ownership proof: `GET {home_url}/.well-known/tessera/{install_id}`.
 *
 * When the broker answers a registration with a challenge, it fetches this
 * URL before it accepts the installation, so nobody can register someone
 * else's site URL. The proof itself is computed by Tessera
 * (`ownershipProof()`); WordPress serves it through a REST route, reached at
 * the well-known path by a rewrite rule (pretty permalinks, or any server
 * that sends unknown paths to index.php as WordPress's .htaccess does).
 *
 * @package StorefrontSync
 */

defined( 'ABSPATH' ) || exit;

use Tessera as Native;
use StorefrontSync\Vendor\Tessera as Bundled;

/**
 * The proof route.
 */
final class Storefront_Sync_Ownership {

	const REST_NAMESPACE = 'storefront-sync/v1';

	const REST_ROUTE = '/ownership/(?P<install_id>ins_[A-Za-z0-9_-]{16,64})';

	/**
	 * Hooks.
	 *
	 * @return void
	 */
	public static function hooks() {
		add_action( 'init', array( __CLASS__, 'add_rewrite_rule' ) );
		add_action( 'rest_api_init', array( __CLASS__, 'register_route' ) );
		add_filter( 'rest_pre_serve_request', array( __CLASS__, 'serve_plain_text' ), 10, 4 );
	}

	/**
	 * `/.well-known/tessera/{install_id}` → the REST route.
	 *
	 * @return void
	 */
	public static function add_rewrite_rule() {
		add_rewrite_rule(
			'^\.well-known/tessera/(ins_[A-Za-z0-9_-]{16,64})/?$',
			'index.php?rest_route=/' . self::REST_NAMESPACE . '/ownership/$matches[1]',
			'top'
		);
	}

	/**
	 * Registers the REST route (public: the proof is meant to be fetched by
	 * the broker, and reveals nothing but an HMAC of the broker's challenge).
	 *
	 * @return void
	 */
	public static function register_route() {
		register_rest_route(
			self::REST_NAMESPACE,
			self::REST_ROUTE,
			array(
				'methods'             => WP_REST_Server::READABLE,
				'callback'            => array( __CLASS__, 'proof' ),
				'permission_callback' => '__return_true',
			)
		);
	}

	/**
	 * The proof for the outstanding challenge, or 404.
	 *
	 * @param WP_REST_Request $request The request.
	 * @return WP_REST_Response|WP_Error
	 */
	public static function proof( WP_REST_Request $request ) {
		$not_found = new WP_Error( 'storefront_sync_no_challenge', __( 'No ownership challenge is outstanding.', 'storefront-sync' ), array( 'status' => 404 ) );
		if ( ! Storefront_Sync_Tessera::available() ) {
			return $not_found;
		}
		try {
			$companion = Storefront_Sync_State::load();
			if ( null === $companion || $companion->installId() !== $request['install_id'] ) {
				return $not_found;
			}
			$proof = $companion->ownershipProof();
		} catch ( Native\Exception\TesseraException | Bundled\Exception\TesseraException $e ) {
			return $not_found;
		}
		$response = new WP_REST_Response( $proof['body'], 200 );
		$response->header( 'Content-Type', 'text/plain; charset=utf-8' );
		$response->header( 'Cache-Control', 'no-store' );
		$response->header( 'X-Content-Type-Options', 'nosniff' );
		return $response;
	}

	/**
	 * Sends the proof as plain text rather than as a JSON string.
	 *
	 * @param bool             $served  Whether the request was already served.
	 * @param WP_HTTP_Response $result  The response.
	 * @param WP_REST_Request  $request The request.
	 * @param WP_REST_Server   $server  The server.
	 * @return bool
	 */
	public static function serve_plain_text( $served, $result, $request, $server ) {
		unset( $server );
		$ours = 0 === strpos( $request->get_route(), '/' . self::REST_NAMESPACE . '/ownership/' );
		if ( $served || ! $ours || 200 !== $result->get_status() || ! is_string( $result->get_data() ) ) {
			return $served;
		}
		// The proof is base64url text made by Tessera; nothing to escape.
		echo $result->get_data(); // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped
		return true;
	}
}
