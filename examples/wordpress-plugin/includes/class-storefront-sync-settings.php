<?php
/**
 * Which service the plugin works with: the partner's broker (the default)
 * or the partner's authorization proxy (docs/PROTOCOL.md §13).
 *
 * - Broker: the broker holds the operator's Stora tokens and forwards every
 *   call; this site holds only its installation secret and a broker token.
 * - Authorization proxy: this site holds the operator's Stora access and
 *   refresh tokens itself (inside the sealed state) and calls Stora's API
 *   directly; the proxy only exchanges the code and refreshes or revokes
 *   tokens (it needs the partner's OAuth client secret).
 *
 * Chosen on the settings page (option below), or pinned in wp-config.php:
 *
 *     define( 'STOREFRONT_SYNC_MODE', 'proxy' );            // or 'broker'
 *     define( 'STOREFRONT_SYNC_PROXY_URL', 'https://proxy.partner.example' );
 *     define( 'STOREFRONT_SYNC_STORA_API_URL', 'https://api.stora.example/2025-09' );
 *
 * With STOREFRONT_SYNC_MODE defined the page shows the settings read-only.
 * The settings apply to a NEW installation: Tessera keeps each
 * installation's service in its state. Saving other settings on the page
 * switches at once (Storefront_Sync_Admin::handle_settings()); a changed
 * constant applies when the site registers again.
 *
 * @package StorefrontSync
 */

defined( 'ABSPATH' ) || exit;

/**
 * The service settings.
 */
final class Storefront_Sync_Settings {

	/** The settings chosen on the settings page (autoload = no). */
	const OPTION = 'storefront_sync_settings';

	/** wp-config.php: `broker` or `proxy`; when defined, the page cannot change the settings. */
	const MODE_CONSTANT = 'STOREFRONT_SYNC_MODE';

	/** wp-config.php: the proxy's base URL (with MODE_CONSTANT). */
	const PROXY_URL_CONSTANT = 'STOREFRONT_SYNC_PROXY_URL';

	/** wp-config.php: Stora's versioned API base (with MODE_CONSTANT). */
	const STORA_API_URL_CONSTANT = 'STOREFRONT_SYNC_STORA_API_URL';

	/** The partner's production proxy (a partner's plugin would ship its own). */
	const DEFAULT_PROXY_URL = 'https://proxy.example.com';

	/** Stora's versioned API base. */
	const DEFAULT_STORA_API_URL = 'https://api.stora.example/2025-09';

	/** The modes. */
	const MODES = array( 'broker', 'proxy' );

	/**
	 * Whether wp-config.php pins the settings.
	 *
	 * @return bool
	 */
	public static function pinned() {
		return defined( self::MODE_CONSTANT );
	}

	/**
	 * The settings in force: wp-config.php's when pinned, else the page's.
	 *
	 * @return array{mode: string, proxy_url: string, stora_api_url: string}
	 */
	public static function get() {
		if ( self::pinned() ) {
			return self::normalise(
				array(
					'mode'          => (string) constant( self::MODE_CONSTANT ),
					'proxy_url'     => defined( self::PROXY_URL_CONSTANT ) ? (string) constant( self::PROXY_URL_CONSTANT ) : '',
					'stora_api_url' => defined( self::STORA_API_URL_CONSTANT ) ? (string) constant( self::STORA_API_URL_CONSTANT ) : '',
				)
			);
		}
		$stored = get_option( self::OPTION, array() );
		return self::normalise( is_array( $stored ) ? $stored : array() );
	}

	/**
	 * Whether the plugin works with the authorization proxy.
	 *
	 * @return bool
	 */
	public static function is_proxy() {
		return 'proxy' === self::get()['mode'];
	}

	/**
	 * Stores the page's settings.
	 *
	 * @param array{mode: string, proxy_url: string, stora_api_url: string} $settings Settings.
	 * @return void
	 */
	public static function save( array $settings ) {
		update_option( self::OPTION, self::normalise( $settings ), false );
	}

	/**
	 * Known keys only, an unknown mode read as the broker, empty URLs as the defaults.
	 *
	 * @param array<string, mixed> $settings Settings as stored or posted.
	 * @return array{mode: string, proxy_url: string, stora_api_url: string}
	 */
	public static function normalise( array $settings ) {
		$mode = isset( $settings['mode'] ) && in_array( $settings['mode'], self::MODES, true ) ? $settings['mode'] : 'broker';
		$url  = static fn ( $key, $default ) => isset( $settings[ $key ] ) && is_string( $settings[ $key ] ) && '' !== trim( $settings[ $key ] ) ? trim( $settings[ $key ] ) : $default;
		return array(
			'mode'          => $mode,
			'proxy_url'     => $url( 'proxy_url', self::DEFAULT_PROXY_URL ),
			'stora_api_url' => $url( 'stora_api_url', self::DEFAULT_STORA_API_URL ),
		);
	}

	/**
	 * Tessera's configuration for a new installation under these settings.
	 * Tessera checks it (scheme, loopback-only http, no query…) when the
	 * companion is created.
	 *
	 * @param array{mode: string, proxy_url: string, stora_api_url: string}|null $settings Settings (null: those in force).
	 * @return array<string, mixed>
	 */
	public static function companion_config( $settings = null ) {
		$settings = $settings ?? self::get();
		if ( 'proxy' !== $settings['mode'] ) {
			return array( 'broker_url' => Storefront_Sync_Client::broker_url() );
		}
		return array(
			'broker_url' => $settings['proxy_url'],
			'proxy'      => array( 'stora_api_url' => $settings['stora_api_url'] ),
		);
	}

	/**
	 * Everything stored, for uninstall.php.
	 *
	 * @return void
	 */
	public static function delete() {
		delete_option( self::OPTION );
	}
}
