<?php
/**
 * Which Tessera runs: the native `tessera` extension when the host loaded
 * it, else the plugin's own copy of the pure-PHP package.
 *
 * The copy lives in vendor-prefixed/tessera, made from the repository's
 * php/src by scripts/bundle-php.sh: its namespace is the plugin's own
 * (`StorefrontSync\Vendor\Tessera\`), so another plugin bundling another
 * Tessera version cannot collide with it, and it never claims the global
 * `Tessera\…` names. Both implementations have the same API (`Companion`,
 * `Verifier`, `Exception\…`, `Http\WordPressTransport`, same methods,
 * arrays and error codes); the plugin reaches the classes through this
 * resolver and catches both implementations' exceptions in every catch
 * block:
 *
 *     use Tessera as Native;
 *     use StorefrontSync\Vendor\Tessera as Bundled;
 *     …
 *     } catch ( Native\Exception\TesseraException | Bundled\Exception\TesseraException $e ) {
 *
 * (a catch of a class that was never loaded simply does not match; PHP 8.2
 * cannot alias the extension's internal classes to one name).
 *
 * The choice is `extension_loaded( 'tessera' )`, made once per request. A
 * global `Tessera\Companion` without the extension is another plugin's
 * copy of the package (its aliases), possibly another version: never used.
 *
 * @package StorefrontSync
 */

defined( 'ABSPATH' ) || exit;

/**
 * The Tessera resolver.
 */
final class Storefront_Sync_Tessera {

	/** The extension's namespace. */
	const NATIVE_NAMESPACE = 'Tessera\\';

	/** The bundled copy's namespace (scripts/bundle-php.sh --prefix). */
	const BUNDLED_NAMESPACE = 'StorefrontSync\\Vendor\\Tessera\\';

	/** The bundled copy, relative to the plugin directory. */
	const BUNDLED_DIR = 'vendor-prefixed/tessera';

	/**
	 * What the bundled copy's autoload.php returned (false: not loaded yet,
	 * null: missing).
	 *
	 * @var array{version: string, source: string}|null|false
	 */
	private static $bundled = false;

	/**
	 * Whether the host loaded the native extension.
	 *
	 * @return bool
	 */
	public static function is_native() {
		return extension_loaded( 'tessera' );
	}

	/**
	 * Loads the bundled copy's autoloader (once).
	 *
	 * @return array{version: string, source: string}|null Null when the copy is missing.
	 */
	private static function bundled() {
		if ( false === self::$bundled ) {
			$autoload      = dirname( __DIR__ ) . '/' . self::BUNDLED_DIR . '/autoload.php';
			self::$bundled = is_readable( $autoload ) ? require $autoload : null;
			if ( ! is_array( self::$bundled ) ) {
				self::$bundled = null;
			}
		}
		return self::$bundled;
	}

	/**
	 * Whether a Tessera can run: the extension, or the bundled copy (which
	 * needs PHP's sodium extension, part of PHP since 7.2).
	 *
	 * @return bool
	 */
	public static function available() {
		return self::is_native() || ( extension_loaded( 'sodium' ) && null !== self::bundled() );
	}

	/**
	 * The running implementation's class for a name of the API.
	 *
	 * @param string $name `Companion`, `Verifier`, `Exception\…` or `Http\…`.
	 * @return class-string
	 */
	public static function class_name( $name ) {
		if ( self::is_native() ) {
			return self::NATIVE_NAMESPACE . $name;
		}
		self::bundled();
		return self::BUNDLED_NAMESPACE . $name;
	}

	/**
	 * The running implementation's `Companion` class, for its static
	 * constructors: `$companion = Storefront_Sync_Tessera::companion();
	 * $companion::create( … )`.
	 *
	 * @return class-string
	 */
	public static function companion() {
		return self::class_name( 'Companion' );
	}

	/**
	 * What runs, for the settings page and Site Health.
	 *
	 * @return array{type: string, version: string, label: string}
	 */
	public static function implementation() {
		if ( self::is_native() ) {
			$version = (string) phpversion( 'tessera' );
			return array(
				'type'    => 'native',
				'version' => $version,
				/* translators: %s: version of the tessera PHP extension. */
				'label'   => sprintf( __( 'native extension tessera %s', 'storefront-sync' ), $version ),
			);
		}
		$bundled = self::bundled();
		if ( null !== $bundled && self::available() ) {
			return array(
				'type'    => 'bundled',
				'version' => (string) $bundled['version'],
				/* translators: %s: version of the bundled pure-PHP Tessera. */
				'label'   => sprintf( __( 'bundled pure PHP (Tessera %s)', 'storefront-sync' ), (string) $bundled['version'] ),
			);
		}
		return array(
			'type'    => 'missing',
			'version' => '',
			'label'   => __( 'none', 'storefront-sync' ),
		);
	}

	/**
	 * Why no Tessera can run (empty when one can).
	 *
	 * @return string
	 */
	public static function missing_reason() {
		if ( self::available() ) {
			return '';
		}
		if ( null === self::bundled() ) {
			return __( 'The plugin\'s files are incomplete (vendor-prefixed/tessera is missing). Delete the plugin and install it again.', 'storefront-sync' );
		}
		return __( 'PHP\'s sodium extension, part of PHP since version 7.2, is not loaded on this server.', 'storefront-sync' );
	}

	/**
	 * Site Health (Tools → Site Health → Status): says which implementation
	 * runs, and whether the saved connection's key comes from wp-config.php
	 * (Storefront_Sync_State::site_health_test()).
	 *
	 * @param array<string, array<string, mixed>> $tests Site Health tests.
	 * @return array<string, array<string, mixed>>
	 */
	public static function site_status_tests( $tests ) {
		$tests['direct']['storefront_sync_tessera'] = array(
			'label' => __( 'Storefront Sync: Tessera implementation', 'storefront-sync' ),
			'test'  => array( __CLASS__, 'site_health_test' ),
		);
		$tests['direct']['storefront_sync_state_key'] = array(
			'label' => __( 'Storefront Sync: key for the saved connection', 'storefront-sync' ),
			'test'  => array( 'Storefront_Sync_State', 'site_health_test' ),
		);
		return $tests;
	}

	/**
	 * The Site Health test's result.
	 *
	 * @return array<string, mixed>
	 */
	public static function site_health_test() {
		$implementation = self::implementation();
		$result         = array(
			'label'       => '',
			'status'      => 'good',
			'badge'       => array(
				'label' => __( 'Storefront Sync', 'storefront-sync' ),
				'color' => 'blue',
			),
			'description' => '',
			'actions'     => '',
			'test'        => 'storefront_sync_tessera',
		);
		switch ( $implementation['type'] ) {
			case 'native':
				/* translators: %s: e.g. "native extension tessera 1.2.0". */
				$result['label']       = sprintf( __( 'Storefront Sync runs on the %s', 'storefront-sync' ), $implementation['label'] );
				$result['description'] = '<p>' . esc_html__( 'This server loads the tessera PHP extension, which signs and encrypts Storefront Sync\'s requests and stored connection. Nothing to do.', 'storefront-sync' ) . '</p>';
				break;
			case 'bundled':
				/* translators: %s: e.g. "bundled pure PHP (Tessera 1.2.0)". */
				$result['label']       = sprintf( __( 'Storefront Sync runs on its %s', 'storefront-sync' ), $implementation['label'] );
				$result['description'] = '<p>' . esc_html__( 'Storefront Sync signs and encrypts its requests and stored connection with the copy of Tessera it ships, written in plain PHP: it works on every host. Nothing to do. Where a server loads the tessera PHP extension, the plugin uses that instead, with the same results.', 'storefront-sync' ) . '</p>';
				break;
			default:
				$result['label']          = __( 'Storefront Sync cannot run', 'storefront-sync' );
				$result['status']         = 'critical';
				$result['badge']['color'] = 'red';
				$result['description']    = '<p>' . esc_html( self::missing_reason() ) . '</p>';
		}
		return $result;
	}
}
