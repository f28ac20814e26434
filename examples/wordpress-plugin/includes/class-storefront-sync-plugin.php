<?php
/**
 * Bootstrap, activation and deactivation.
 *
 * @package StorefrontSync
 */

defined( 'ABSPATH' ) || exit;

use Tessera as Native;
use StorefrontSync\Vendor\Tessera as Bundled;

/**
 * Wires the plugin into WordPress.
 */
final class Storefront_Sync_Plugin {

	/**
	 * Registers the hooks.
	 *
	 * @return void
	 */
	public static function boot() {
		add_action( 'init', array( __CLASS__, 'load_textdomain' ) );
		add_filter( 'site_status_tests', array( 'Storefront_Sync_Tessera', 'site_status_tests' ) );
		Storefront_Sync_Ownership::hooks();
		Storefront_Sync_Events::hooks();
		if ( is_admin() ) {
			Storefront_Sync_Admin::hooks();
		}
	}

	/**
	 * Loads translations.
	 *
	 * @return void
	 */
	public static function load_textdomain() {
		load_plugin_textdomain( 'storefront-sync', false, dirname( plugin_basename( STOREFRONT_SYNC_FILE ) ) . '/languages' );
	}

	/**
	 * Activation: registers the installation with the broker. Activation
	 * succeeds whatever the network says; a registration that did not finish
	 * is retried on the next admin page load (with a notice until it works).
	 *
	 * @return void
	 */
	public static function activate() {
		if ( ! Storefront_Sync_Tessera::available() ) {
			wp_die(
				esc_html( Storefront_Sync_Tessera::missing_reason() ),
				esc_html__( 'Plugin could not be activated', 'storefront-sync' ),
				array( 'back_link' => true )
			);
		}
		Storefront_Sync_Ownership::add_rewrite_rule();
		flush_rewrite_rules();
		self::ensure_registered( true );
	}

	/**
	 * Deactivation keeps the registration and the connection (activating
	 * again carries on); only uninstalling removes them. The rewrite rules are
	 * rebuilt without the proof route on the next request.
	 *
	 * @return void
	 */
	public static function deactivate() {
		delete_option( 'rewrite_rules' );
	}

	/**
	 * Registers when nothing is registered yet or a registration is still
	 * pending (a broker that was unreachable, an ownership proof round).
	 *
	 * @param bool $activating Whether this runs inside the activation hook.
	 * @return void
	 */
	public static function ensure_registered( $activating = false ) {
		try {
			$companion = Storefront_Sync_State::load();
		} catch ( Native\Exception\TesseraException | Bundled\Exception\TesseraException $e ) {
			return; // state_undecryptable: the admin notice asks the operator.
		}
		$pending = array( 'not_registered', 'registration_pending', 'awaiting_ownership' );
		if ( null === $companion || in_array( $companion->status(), $pending, true ) ) {
			self::try_register( $companion, $activating );
		}
	}

	/**
	 * Registers (a new installation when $companion is null). Problems go to
	 * the health record, shown as an admin notice; nothing is thrown.
	 *
	 * @param Native\Companion|Bundled\Companion|null $companion  The installation, or null for a new one.
	 * @param bool                                    $activating Whether this runs inside the activation hook.
	 * @return bool Whether the site is registered now.
	 */
	public static function try_register( $companion, $activating = false ) {
		if ( get_transient( Storefront_Sync_State::LOCK_TRANSIENT ) ) {
			return false;
		}
		set_transient( Storefront_Sync_State::LOCK_TRANSIENT, 1, 30 );
		try {
			$status = Storefront_Sync_Client::register( $companion ?? Storefront_Sync_Client::create(), $activating );
			return 'registered' === $status;
		} catch ( Native\Exception\TesseraException | Bundled\Exception\TesseraException $e ) {
			self::registration_failed( $e->getErrorCode(), $e->getMessage() );
		} finally {
			delete_transient( Storefront_Sync_State::LOCK_TRANSIENT );
		}
		return false;
	}

	/**
	 * After the service settings changed (Storefront_Sync_Admin::handle_settings()):
	 * the current installation leaves its service with Tessera's uninstall
	 * plan (best effort; with the broker: disconnect and deregister; with
	 * the authorization proxy: revoke the Stora tokens and deregister; a
	 * copy of the site skips both), its state is forgotten, and the site
	 * registers with the service the settings name now. An installation
	 * that never finished registering has nothing to leave. A saved state
	 * that does not open is kept: the operator decides ("Register again").
	 *
	 * @return string|null The error code of a step of the plan that failed, else null.
	 */
	public static function switch_service() {
		try {
			$companion = Storefront_Sync_State::load();
		} catch ( Native\Exception\TesseraException | Bundled\Exception\TesseraException $e ) {
			return null; // state_undecryptable: the settings page says so.
		}
		$failed  = null;
		$pending = array( 'not_registered', 'registration_pending', 'awaiting_ownership' );
		if ( null !== $companion && ! in_array( $companion->status(), $pending, true ) ) {
			try {
				$companion->checkSite( home_url() );
				foreach ( $companion->uninstall( Storefront_Sync_Client::transport() ) as $step ) {
					if ( 'failed' === $step['result'] && null === $failed ) {
						$failed = null !== $step['error'] ? $step['error']->getErrorCode() : 'unknown';
					}
				}
			} catch ( Native\Exception\TesseraException | Bundled\Exception\TesseraException $e ) {
				$failed = $e->getErrorCode();
			}
		}
		Storefront_Sync_State::delete();
		Storefront_Sync_State::update_health(
			array(
				'registration_error' => null,
				'rate_limited_until' => null,
			)
		);
		delete_transient( Storefront_Sync_State::LOCK_TRANSIENT );
		self::try_register( null );
		return $failed;
	}

	/**
	 * Records a registration problem for the admin notice.
	 *
	 * @param string $code    Error code.
	 * @param string $message Message (Tessera's messages never contain secrets).
	 * @return void
	 */
	private static function registration_failed( $code, $message ) {
		Storefront_Sync_State::update_health(
			array(
				'registration_error' => array(
					'code'    => $code,
					'message' => $message,
					'time'    => time(),
				),
			)
		);
	}
}
