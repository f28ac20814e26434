<?php
/**
 * Settings → Storefront Sync: connection status, Connect / Reconnect /
 * Disconnect, the connect callback, recent orders, an example POST, and the
 * admin notices (registration, reconnect, site mismatch, unreadable state).
 *
 * Every state-changing action is a POST to admin-post.php with a nonce and
 * the manage_options capability; the connect callback is a GET carrying a
 * nonce in the return URL (and Tessera's own one-use `state`).
 *
 * @package StorefrontSync
 */

defined( 'ABSPATH' ) || exit;

use Tessera as Native;
use StorefrontSync\Vendor\Tessera as Bundled;

/**
 * The admin side.
 */
final class Storefront_Sync_Admin {

	/** Settings page slug. */
	const PAGE = 'storefront-sync';

	/** Who may see and change the connection. */
	const CAP = 'manage_options';

	/** Marker the broker's redirect back carries (it is in the return URL). */
	const CALLBACK_ARG = 'storefront-sync-callback';

	/** Actions handled through admin-post.php: action => method. */
	const ACTIONS = array(
		'register'       => 'handle_register',
		'register_again' => 'handle_register_again',
		'connect'        => 'handle_connect',
		'disconnect'     => 'handle_disconnect',
		'enquiry'        => 'handle_enquiry',
		'site_copy'      => 'handle_site_copy',
		'site_moved'     => 'handle_site_moved',
		'reset'          => 'handle_reset',
		'settings'       => 'handle_settings',
	);

	/**
	 * Orders fetched for the settings page (null: not fetched).
	 *
	 * @var array<int, array<string, mixed>>|null
	 */
	private static $orders = null;

	/**
	 * Why the orders could not be fetched.
	 *
	 * @var Native\Exception\TesseraException|Bundled\Exception\TesseraException|null
	 */
	private static $orders_error = null;

	/**
	 * Why Stora's events could not be pulled.
	 *
	 * @var Native\Exception\TesseraException|Bundled\Exception\TesseraException|null
	 */
	private static $events_error = null;

	/**
	 * Hooks.
	 *
	 * @return void
	 */
	public static function hooks() {
		add_action( 'admin_menu', array( __CLASS__, 'menu' ) );
		add_action( 'admin_init', array( __CLASS__, 'on_admin_init' ) );
		add_action( 'admin_notices', array( __CLASS__, 'notices' ) );
		add_action( 'admin_enqueue_scripts', array( __CLASS__, 'assets' ) );
		foreach ( self::ACTIONS as $action => $method ) {
			add_action( 'admin_post_storefront_sync_' . $action, array( __CLASS__, $method ) );
		}
		Storefront_Sync_Previous::hooks();
		add_filter( 'plugin_action_links_' . plugin_basename( STOREFRONT_SYNC_FILE ), array( __CLASS__, 'action_links' ) );
		add_filter( 'removable_query_args', array( __CLASS__, 'removable_query_args' ) );
	}

	/**
	 * WordPress removes the result arguments from the address bar once shown,
	 * so reloading the page does not repeat the message.
	 *
	 * @param string[] $args Removable query arguments.
	 * @return string[]
	 */
	public static function removable_query_args( $args ) {
		$args[] = 'sfs_notice';
		$args[] = 'sfs_ref';
		return $args;
	}

	// ---- WordPress plumbing --------------------------------------------------------------

	/**
	 * Settings → Storefront Sync.
	 *
	 * @return void
	 */
	public static function menu() {
		$hook = add_options_page(
			__( 'Storefront Sync', 'storefront-sync' ),
			__( 'Storefront Sync', 'storefront-sync' ),
			self::CAP,
			self::PAGE,
			array( __CLASS__, 'render_page' )
		);
		if ( $hook ) {
			add_action( 'load-' . $hook, array( __CLASS__, 'on_load_page' ) );
		}
	}

	/**
	 * Styles for the settings page and the notices.
	 *
	 * @return void
	 */
	public static function assets() {
		wp_enqueue_style( 'storefront-sync-admin', plugins_url( 'assets/admin.css', STOREFRONT_SYNC_FILE ), array(), STOREFRONT_SYNC_VERSION );
	}

	/**
	 * A "Settings" link on the Plugins screen.
	 *
	 * @param array<string, string> $links Action links.
	 * @return array<string, string>
	 */
	public static function action_links( $links ) {
		$settings = sprintf( '<a href="%s">%s</a>', esc_url( self::page_url() ), esc_html__( 'Settings', 'storefront-sync' ) );
		return array( 'settings' => $settings ) + $links;
	}

	/**
	 * The settings page URL.
	 *
	 * @param array<string, string> $args Extra query arguments.
	 * @return string
	 */
	public static function page_url( array $args = array() ) {
		return add_query_arg( array( 'page' => self::PAGE ) + $args, admin_url( 'options-general.php' ) );
	}

	/**
	 * Where the broker sends the browser back after consent: this page, with
	 * a marker and a nonce (Tessera adds its own one-use `state`).
	 *
	 * @return string
	 */
	private static function return_url() {
		return self::page_url(
			array(
				self::CALLBACK_ARG => '1',
				'_wpnonce'         => wp_create_nonce( 'storefront_sync_callback' ),
			)
		);
	}

	/**
	 * On every admin page load of an administrator: check the site identity
	 * and retry a registration that did not finish.
	 *
	 * @return void
	 */
	public static function on_admin_init() {
		global $pagenow;
		if ( ! current_user_can( self::CAP ) || wp_doing_ajax() || wp_doing_cron() || ! Storefront_Sync_Tessera::available() ) {
			return;
		}
		// Before anything can be signed, also ahead of the action handlers: a
		// copy of the site must not act as the original.
		self::check_site();
		if ( 'admin-post.php' === $pagenow ) {
			return; // The action handlers do the rest of their own work.
		}
		Storefront_Sync_Plugin::ensure_registered();
	}

	/**
	 * `checkSite(home_url())`: a site whose address changed (a staging copy,
	 * a move) stops signing until the operator says which it is.
	 *
	 * @return void
	 */
	private static function check_site() {
		try {
			$companion = Storefront_Sync_State::load();
			if ( null === $companion || null === $companion->installId() ) {
				return;
			}
			$before = $companion->status();
			$companion->checkSite( home_url() );
			if ( $companion->status() === $before ) {
				return; // Nothing to store (the usual case: no lock taken).
			}
			Storefront_Sync_State::update(
				static function ( $stored ) {
					$before = $stored->status();
					$stored->checkSite( home_url() );
					return $stored->status() !== $before;
				}
			);
		} catch ( Native\Exception\TesseraException | Bundled\Exception\TesseraException $e ) {
			return; // Unreadable state: the notice says so.
		}
	}

	/**
	 * Where things stand, for the page and the notices.
	 *
	 * @return array{status: string, companion: Native\Companion|Bundled\Companion|null}
	 */
	private static function current() {
		if ( ! Storefront_Sync_Tessera::available() ) {
			return array(
				'status'    => 'tessera_missing',
				'companion' => null,
			);
		}
		try {
			$companion = Storefront_Sync_State::load();
		} catch ( Native\Exception\StateUndecryptableException | Bundled\Exception\StateUndecryptableException $e ) {
			return array(
				'status'    => 'state_undecryptable',
				'companion' => null,
			);
		} catch ( Native\Exception\TesseraException | Bundled\Exception\TesseraException $e ) {
			return array(
				'status'    => 'state_corrupt',
				'companion' => null,
			);
		}
		$status = null === $companion ? 'not_registered' : $companion->status();
		if ( 'connected' === $status && self::rate_limited_for() > 0 ) {
			$status = 'rate_limited';
		}
		return array(
			'status'    => $status,
			'companion' => $companion,
		);
	}

	/**
	 * Seconds left of a rate limit the broker reported, 0 when none.
	 *
	 * @return int
	 */
	private static function rate_limited_for() {
		$health = Storefront_Sync_State::health();
		return isset( $health['rate_limited_until'] ) ? max( 0, (int) $health['rate_limited_until'] - time() ) : 0;
	}

	// ---- the settings page ----------------------------------------------------------------

	/**
	 * Before the settings page is output: finish a connect callback, fetch
	 * the orders (so a "reconnect required" shows in this page's notices)
	 * and pull Stora's events the broker holds for this site.
	 *
	 * @return void
	 */
	public static function on_load_page() {
		// phpcs:ignore WordPress.Security.NonceVerification.Recommended -- the nonce is checked in complete_connect().
		if ( isset( $_GET[ self::CALLBACK_ARG ] ) ) {
			self::complete_connect();
		}
		$current = self::current();
		if ( 'connected' === $current['status'] ) {
			try {
				self::$orders = Storefront_Sync_Client::recent_orders( $current['companion'] );
			} catch ( Native\Exception\TesseraException | Bundled\Exception\TesseraException $e ) {
				self::$orders_error = $e;
			}
			try {
				Storefront_Sync_Events::pull( $current['companion'] );
			} catch ( Native\Exception\TesseraException | Bundled\Exception\TesseraException $e ) {
				self::$events_error = $e;
			}
		}
	}

	/**
	 * The broker sent the browser back with Tessera's one-use `state` and a
	 * single-use connect `code` (never a broker token): `completeConnect()`
	 * checks the callback, then exchanges the code for the broker token with
	 * a signed request to the broker (through the same transport as every
	 * other call) and stores it with the Stora account it belongs to. On any
	 * failure the previous connection, if any, is kept. The browser is then
	 * sent to the clean page URL, so the code does not stay in the address
	 * bar or the history; the page shows which Stora account is connected.
	 *
	 * @return void
	 */
	private static function complete_connect() {
		$nonce = isset( $_GET['_wpnonce'] ) ? sanitize_key( wp_unslash( $_GET['_wpnonce'] ) ) : '';
		if ( ! wp_verify_nonce( $nonce, 'storefront_sync_callback' ) ) {
			self::finish( 'error', 'callback_invalid' );
		}
		// Tessera parses and validates the callback (state, code or error)
		// itself; it gets the query string exactly as received.
		$query = isset( $_SERVER['QUERY_STRING'] ) ? wp_unslash( $_SERVER['QUERY_STRING'] ) : ''; // phpcs:ignore WordPress.Security.ValidatedSanitizedInput.InputNotSanitized
		$companion = null;
		try {
			$companion = self::companion_or_fail();
			$companion->completeConnect( (string) $query, Storefront_Sync_Client::transport(), null, Storefront_Sync_Client::persister() );
			Storefront_Sync_State::save_after_operation( $companion );
			Storefront_Sync_State::update_health( array( 'rate_limited_until' => null ) );
			Storefront_Sync_Events::register_push( $companion );
			self::finish( 'connected' );
		} catch ( Native\Exception\TesseraException | Bundled\Exception\TesseraException $e ) {
			if ( null !== $companion ) {
				Storefront_Sync_State::save_after_operation( $companion ); // The attempt is used up either way.
			}
			$code = $e->getErrorCode();
			if ( 'client_error' === $code && 'connect_code_invalid' === $e->getReason() ) {
				$code = 'connect_code_invalid'; // The broker refused the code (used, cancelled or expired).
			}
			self::finish( 'error', $code );
		}
	}

	/**
	 * Settings → Storefront Sync.
	 *
	 * @return void
	 */
	public static function render_page() {
		if ( ! current_user_can( self::CAP ) ) {
			return;
		}
		$current        = self::current();
		$status         = $current['status'];
		$companion      = $current['companion'];
		$implementation = Storefront_Sync_Tessera::implementation();
		$key            = Storefront_Sync_State::key_status();
		$settings       = Storefront_Sync_Settings::get();
		?>
		<div class="wrap storefront-sync">
			<h1><?php esc_html_e( 'Storefront Sync', 'storefront-sync' ); ?></h1>
			<p><?php esc_html_e( 'Shows your Stora orders on this site and sends website enquiries to Stora, through the Storefront Sync service.', 'storefront-sync' ); ?></p>
			<?php Storefront_Sync_Previous::render_notice( $status, $companion ); ?>

			<h2><?php esc_html_e( 'Connection', 'storefront-sync' ); ?></h2>
			<table class="form-table" role="presentation">
				<tr>
					<th scope="row"><?php esc_html_e( 'Status', 'storefront-sync' ); ?></th>
					<td>
						<span id="storefront-sync-status" class="storefront-sync-badge storefront-sync-badge--<?php echo esc_attr( $status ); ?>" data-status="<?php echo esc_attr( $status ); ?>"><?php echo esc_html( self::status_label( $status ) ); ?></span>
						<p class="description"><?php echo esc_html( self::status_description( $status, $companion ) ); ?></p>
					</td>
				</tr>
				<?php $account = null !== $companion ? $companion->account() : null; ?>
				<?php if ( null !== $account ) : ?>
					<tr>
						<th scope="row"><?php esc_html_e( 'Stora account', 'storefront-sync' ); ?></th>
						<td>
							<span id="storefront-sync-account" data-account-id="<?php echo esc_attr( $account['id'] ); ?>"><?php echo esc_html( self::account_label( $account ) ); ?></span>
							<p class="description"><?php esc_html_e( 'If this is not your Stora account, disconnect now and connect again.', 'storefront-sync' ); ?></p>
						</td>
					</tr>
				<?php endif; ?>
				<?php if ( null !== $companion && null !== $companion->installId() ) : ?>
					<tr>
						<th scope="row"><?php esc_html_e( 'Installation', 'storefront-sync' ); ?></th>
						<td><code id="storefront-sync-install-id"><?php echo esc_html( $companion->installId() ); ?></code></td>
					</tr>
				<?php endif; ?>
				<tr>
					<th scope="row"><?php esc_html_e( 'Service', 'storefront-sync' ); ?></th>
					<td><span id="storefront-sync-service" data-mode="<?php echo esc_attr( $settings['mode'] ); ?>"><?php echo esc_html( self::service_label( $settings ) ); ?></span></td>
				</tr>
				<tr>
					<th scope="row"><?php esc_html_e( 'Site address', 'storefront-sync' ); ?></th>
					<td><code><?php echo esc_html( home_url() ); ?></code></td>
				</tr>
				<tr>
					<th scope="row"><?php esc_html_e( 'Saved connection', 'storefront-sync' ); ?></th>
					<td>
						<span id="storefront-sync-state-key" data-protected="<?php echo esc_attr( $key['protected'] ? 'yes' : 'no' ); ?>" data-source="<?php echo esc_attr( $key['source'] ); ?>"><?php echo esc_html( self::key_description( $key ) ); ?></span>
					</td>
				</tr>
				<tr>
					<th scope="row"><?php esc_html_e( 'Tessera', 'storefront-sync' ); ?></th>
					<td>
						<span id="storefront-sync-implementation" data-implementation="<?php echo esc_attr( $implementation['type'] ); ?>"><?php echo esc_html( ucfirst( $implementation['label'] ) ); ?></span>
						<p class="description"><?php echo esc_html( self::implementation_description( $implementation['type'] ) ); ?></p>
					</td>
				</tr>
			</table>
			<div class="storefront-sync-actions">
				<?php self::render_actions( $status ); ?>
			</div>

			<?php if ( null !== self::$orders || null !== self::$orders_error ) : ?>
				<h2><?php esc_html_e( 'Recent orders', 'storefront-sync' ); ?></h2>
				<?php self::render_orders(); ?>
			<?php endif; ?>

			<?php if ( 'connected' === $status && ! Storefront_Sync_Settings::is_proxy() ) : ?>
				<h2><?php esc_html_e( 'Recent Stora events', 'storefront-sync' ); ?></h2>
				<?php self::render_events(); ?>
			<?php endif; ?>

			<?php if ( 'connected' === $status ) : ?>
				<h2><?php esc_html_e( 'Send a test enquiry to Stora', 'storefront-sync' ); ?></h2>
				<p><?php esc_html_e( 'Creates a contact in your Stora account, as a website enquiry form would, and records it on your Stora timeline.', 'storefront-sync' ); ?></p>
				<form method="post" action="<?php echo esc_url( admin_url( 'admin-post.php' ) ); ?>" id="storefront-sync-enquiry">
					<input type="hidden" name="action" value="storefront_sync_enquiry" />
					<?php wp_nonce_field( 'storefront_sync_enquiry' ); ?>
					<table class="form-table" role="presentation">
						<tr>
							<th scope="row"><label for="storefront-sync-name"><?php esc_html_e( 'Name', 'storefront-sync' ); ?></label></th>
							<td><input type="text" class="regular-text" id="storefront-sync-name" name="storefront_sync_name" required /></td>
						</tr>
						<tr>
							<th scope="row"><label for="storefront-sync-email"><?php esc_html_e( 'Email', 'storefront-sync' ); ?></label></th>
							<td><input type="email" class="regular-text" id="storefront-sync-email" name="storefront_sync_email" required /></td>
						</tr>
					</table>
					<button type="submit" class="button button-secondary" id="storefront-sync-send-enquiry"><?php esc_html_e( 'Send to Stora', 'storefront-sync' ); ?></button>
				</form>
			<?php endif; ?>

			<?php self::render_settings( $settings, null !== $companion && null !== $companion->installId() ); ?>
		</div>
		<?php
	}

	/**
	 * The service settings (Storefront_Sync_Settings): a form, or what
	 * wp-config.php pinned.
	 *
	 * @param array{mode: string, proxy_url: string, stora_api_url: string} $settings   The settings in force.
	 * @param bool                                                           $registered Whether an installation exists (saving other settings replaces it).
	 * @return void
	 */
	private static function render_settings( array $settings, $registered ) {
		$pinned   = Storefront_Sync_Settings::pinned();
		$disabled = $pinned ? ' disabled' : '';
		$confirm  = $registered ? __( 'Change the service? This site leaves the current one (its access to your Stora account is revoked) and registers with the new one; then connect to Stora again.', 'storefront-sync' ) : '';
		$modes    = array(
			'broker' => __( 'Broker: the Storefront Sync service keeps the access to your Stora account and makes every call to Stora for this site.', 'storefront-sync' ),
			'proxy'  => __( 'Authorization proxy: this site keeps the access to your Stora account (encrypted, in its saved connection) and calls Stora directly; the Storefront Sync service only issues and renews that access.', 'storefront-sync' ),
		);
		?>
		<h2><?php esc_html_e( 'Service', 'storefront-sync' ); ?></h2>
		<form method="post" action="<?php echo esc_url( admin_url( 'admin-post.php' ) ); ?>" id="storefront-sync-settings" data-pinned="<?php echo esc_attr( $pinned ? 'yes' : 'no' ); ?>"<?php echo '' === $confirm ? '' : sprintf( ' onsubmit="return window.confirm(\'%s\');"', esc_js( $confirm ) ); // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped -- esc_js() above. ?>>
			<input type="hidden" name="action" value="storefront_sync_settings" />
			<?php wp_nonce_field( 'storefront_sync_settings' ); ?>
			<table class="form-table" role="presentation">
				<tr>
					<th scope="row"><?php esc_html_e( 'How this site reaches Stora', 'storefront-sync' ); ?></th>
					<td>
						<?php foreach ( $modes as $mode => $label ) : ?>
							<p><label><input type="radio" name="storefront_sync_mode" id="<?php echo esc_attr( 'storefront-sync-mode-' . $mode ); ?>" value="<?php echo esc_attr( $mode ); ?>"<?php checked( $settings['mode'], $mode ); ?><?php echo $disabled; // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped -- a constant. ?> /> <?php echo esc_html( $label ); ?></label></p>
						<?php endforeach; ?>
					</td>
				</tr>
				<tr>
					<th scope="row"><label for="storefront-sync-proxy-url"><?php esc_html_e( 'Proxy URL', 'storefront-sync' ); ?></label></th>
					<td><input type="url" class="regular-text code" id="storefront-sync-proxy-url" name="storefront_sync_proxy_url" value="<?php echo esc_attr( $settings['proxy_url'] ); ?>"<?php echo $disabled; // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped -- a constant. ?> /></td>
				</tr>
				<tr>
					<th scope="row"><label for="storefront-sync-stora-api-url"><?php esc_html_e( 'Stora API URL', 'storefront-sync' ); ?></label></th>
					<td>
						<input type="url" class="regular-text code" id="storefront-sync-stora-api-url" name="storefront_sync_stora_api_url" value="<?php echo esc_attr( $settings['stora_api_url'] ); ?>"<?php echo $disabled; // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped -- a constant. ?> />
						<p class="description"><?php esc_html_e( 'Both URLs are used with the authorization proxy only.', 'storefront-sync' ); ?></p>
					</td>
				</tr>
			</table>
			<?php if ( $pinned ) : ?>
				<p class="description" id="storefront-sync-settings-pinned"><?php esc_html_e( 'These settings are set in wp-config.php (STOREFRONT_SYNC_MODE, STOREFRONT_SYNC_PROXY_URL, STOREFRONT_SYNC_STORA_API_URL); change them there. A change there applies when the site registers again.', 'storefront-sync' ); ?></p>
			<?php else : ?>
				<button type="submit" class="button button-secondary" id="storefront-sync-save-settings"><?php esc_html_e( 'Save service settings', 'storefront-sync' ); ?></button>
			<?php endif; ?>
		</form>
		<?php
	}

	/**
	 * "Broker at …" / "Authorization proxy at …, calls straight to Stora at …".
	 *
	 * @param array{mode: string, proxy_url: string, stora_api_url: string} $settings The settings in force.
	 * @return string
	 */
	private static function service_label( array $settings ) {
		if ( 'proxy' === $settings['mode'] ) {
			/* translators: 1: proxy URL, 2: Stora API URL. */
			return sprintf( __( 'Authorization proxy at %1$s; calls go straight to Stora at %2$s', 'storefront-sync' ), $settings['proxy_url'], $settings['stora_api_url'] );
		}
		/* translators: %s: broker URL. */
		return sprintf( __( 'Broker at %s', 'storefront-sync' ), Storefront_Sync_Client::broker_url() );
	}

	/**
	 * The buttons that fit the status.
	 *
	 * @param string $status  View status.
	 * @param string $context Where (prefix of the buttons' ids): '' on the page, 'notice' in a notice.
	 * @return void
	 */
	private static function render_actions( $status, $context = '' ) {
		switch ( $status ) {
			case 'not_registered':
			case 'registration_pending':
			case 'awaiting_ownership':
				self::button( 'register', __( 'Register now', 'storefront-sync' ), 'primary', '', $context );
				break;
			case 'registered':
				self::button( 'connect', __( 'Connect to Stora', 'storefront-sync' ), 'primary', '', $context );
				self::reset_button( $context );
				break;
			case 'connected':
			case 'rate_limited':
				self::button( 'connect', __( 'Reconnect', 'storefront-sync' ), 'secondary', '', $context );
				self::button( 'disconnect', __( 'Disconnect', 'storefront-sync' ), 'secondary storefront-sync-danger', '', $context );
				self::reset_button( $context );
				break;
			case 'reconnect_required':
				self::button( 'connect', __( 'Reconnect', 'storefront-sync' ), 'primary', '', $context );
				self::reset_button( $context );
				break;
			case 'registration_invalid':
				self::button( 'register_again', __( 'Register again', 'storefront-sync' ), 'primary', __( 'Register this site again? The current connection cannot be used any more and you will have to connect to Stora again.', 'storefront-sync' ), $context );
				self::reset_button( $context );
				break;
			case 'state_undecryptable':
			case 'state_corrupt':
				self::button( 'register_again', __( 'Register again', 'storefront-sync' ), 'primary', __( 'Register this site again? The current connection cannot be used any more and you will have to connect to Stora again.', 'storefront-sync' ), $context );
				break;
			case 'site_mismatch':
				self::button( 'site_moved', __( 'The site moved', 'storefront-sync' ), 'primary', '', $context );
				self::button( 'site_copy', __( 'This is a copy', 'storefront-sync' ), 'secondary', '', $context );
				break;
		}
	}

	/**
	 * "Reset this installation" (a secret that may have leaked), with a confirmation.
	 *
	 * @param string $context Prefix of the button's id.
	 * @return void
	 */
	private static function reset_button( $context ) {
		self::button( 'reset', __( 'Reset this installation', 'storefront-sync' ), 'secondary storefront-sync-danger', __( 'Reset this installation? The Storefront Sync service revokes this site\'s access to your Stora account and forgets this installation; the site then registers afresh (a new secret) and you connect to Stora again.', 'storefront-sync' ), $context );
	}

	/**
	 * A one-button form posting to admin-post.php with a nonce.
	 *
	 * @param string $action  Action key (see ACTIONS).
	 * @param string $label   Button label.
	 * @param string $type    Button classes (primary, secondary, …).
	 * @param string $confirm Confirmation question, if any.
	 * @param string $context Prefix of the button's id.
	 * @return void
	 */
	private static function button( $action, $label, $type, $confirm = '', $context = '' ) {
		$id = 'storefront-sync-' . ( '' === $context ? '' : $context . '-' ) . str_replace( '_', '-', $action );
		$onsubmit = '' === $confirm ? '' : sprintf( ' onsubmit="return window.confirm(\'%s\');"', esc_js( $confirm ) );
		?>
		<form method="post" action="<?php echo esc_url( admin_url( 'admin-post.php' ) ); ?>" class="storefront-sync-inline"<?php echo $onsubmit; // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped -- built above with esc_js(). ?>>
			<input type="hidden" name="action" value="<?php echo esc_attr( 'storefront_sync_' . $action ); ?>" />
			<?php wp_nonce_field( 'storefront_sync_' . $action, '_wpnonce', false ); ?>
			<button type="submit" class="<?php echo esc_attr( 'button button-' . $type ); ?>" id="<?php echo esc_attr( $id ); ?>"><?php echo esc_html( $label ); ?></button>
		</form>
		<?php
	}

	/**
	 * The orders table, or why it is empty.
	 *
	 * @return void
	 */
	private static function render_orders() {
		if ( null !== self::$orders_error ) {
			printf( '<p class="storefront-sync-orders-error">%s</p>', esc_html( self::error_message( self::$orders_error->getErrorCode() ) ) );
			return;
		}
		if ( array() === self::$orders ) {
			echo '<p>' . esc_html__( 'No orders yet.', 'storefront-sync' ) . '</p>';
			return;
		}
		?>
		<table class="widefat striped storefront-sync-orders" id="storefront-sync-orders">
			<thead>
				<tr>
					<th scope="col"><?php esc_html_e( 'Order', 'storefront-sync' ); ?></th>
					<th scope="col"><?php esc_html_e( 'Unit', 'storefront-sync' ); ?></th>
					<th scope="col"><?php esc_html_e( 'Status', 'storefront-sync' ); ?></th>
					<th scope="col"><?php esc_html_e( 'Monthly price', 'storefront-sync' ); ?></th>
				</tr>
			</thead>
			<tbody>
				<?php foreach ( self::$orders as $order ) : ?>
					<tr>
						<td><?php echo esc_html( (string) ( $order['id'] ?? '' ) ); ?></td>
						<td><?php echo esc_html( (string) ( $order['unit'] ?? '' ) ); ?></td>
						<td><?php echo esc_html( ucfirst( str_replace( '_', ' ', (string) ( $order['status'] ?? '' ) ) ) ); ?></td>
						<td><?php echo esc_html( self::money( $order['monthly_price'] ?? null ) ); ?></td>
					</tr>
				<?php endforeach; ?>
			</tbody>
		</table>
		<?php
	}

	/**
	 * The recent Stora events (Storefront_Sync_Events), and why the last
	 * pull failed when it did.
	 *
	 * @return void
	 */
	private static function render_events() {
		if ( null !== self::$events_error ) {
			printf( '<p class="storefront-sync-events-error">%s</p>', esc_html( self::error_message( self::$events_error->getErrorCode() ) ) );
		}
		$events = Storefront_Sync_Events::recent();
		if ( array() === $events ) {
			echo '<p id="storefront-sync-no-events">' . esc_html__( 'No events yet. Changes in your Stora account (a new contact, an updated order) appear here.', 'storefront-sync' ) . '</p>';
			return;
		}
		?>
		<table class="widefat striped storefront-sync-events" id="storefront-sync-events">
			<thead>
				<tr>
					<th scope="col"><?php esc_html_e( 'When', 'storefront-sync' ); ?></th>
					<th scope="col"><?php esc_html_e( 'Event', 'storefront-sync' ); ?></th>
					<th scope="col"><?php esc_html_e( 'About', 'storefront-sync' ); ?></th>
				</tr>
			</thead>
			<tbody>
				<?php foreach ( $events as $event ) : ?>
					<tr data-event-id="<?php echo esc_attr( $event['id'] ); ?>">
						<td><?php echo esc_html( wp_date( get_option( 'date_format' ) . ' ' . get_option( 'time_format' ), $event['created_at'] ) ); ?></td>
						<td><code><?php echo esc_html( $event['type'] ); ?></code></td>
						<td><?php echo esc_html( $event['object'] ); ?></td>
					</tr>
				<?php endforeach; ?>
			</tbody>
		</table>
		<?php
	}

	/**
	 * "129.00 GBP" from Stora's `{amount (minor units), currency}`.
	 *
	 * @param mixed $price Price object.
	 * @return string
	 */
	private static function money( $price ) {
		if ( ! is_array( $price ) || ! isset( $price['amount'], $price['currency'] ) ) {
			return '';
		}
		return number_format_i18n( ( (int) $price['amount'] ) / 100, 2 ) . ' ' . (string) $price['currency'];
	}

	// ---- texts ----------------------------------------------------------------------------

	/**
	 * Short status label.
	 *
	 * @param string $status View status.
	 * @return string
	 */
	private static function status_label( $status ) {
		$labels = array(
			'tessera_missing'      => __( 'Cannot run', 'storefront-sync' ),
			'state_undecryptable'  => __( 'Saved connection unreadable', 'storefront-sync' ),
			'state_corrupt'        => __( 'Saved connection damaged', 'storefront-sync' ),
			'not_registered'       => __( 'Not registered', 'storefront-sync' ),
			'registration_pending' => __( 'Registering', 'storefront-sync' ),
			'awaiting_ownership'   => __( 'Registering', 'storefront-sync' ),
			'registered'           => __( 'Registered', 'storefront-sync' ),
			'connected'            => __( 'Connected', 'storefront-sync' ),
			'reconnect_required'   => __( 'Reconnect required', 'storefront-sync' ),
			'rate_limited'         => __( 'Rate limited', 'storefront-sync' ),
			'registration_invalid' => __( 'Registration invalid', 'storefront-sync' ),
			'site_mismatch'        => __( 'Site mismatch', 'storefront-sync' ),
		);
		return $labels[ $status ] ?? $status;
	}

	/**
	 * One sentence about the status.
	 *
	 * @param string         $status    View status.
	 * @param Native\Companion|Bundled\Companion|null $companion The installation.
	 * @return string
	 */
	private static function status_description( $status, $companion ) {
		switch ( $status ) {
			case 'tessera_missing':
				return Storefront_Sync_Tessera::missing_reason();
			case 'state_undecryptable':
				return __( 'The saved connection cannot be decrypted with this site\'s current security keys (the salts in wp-config.php, or STOREFRONT_SYNC_STATE_KEY, changed). Restore the previous keys to keep it, or register again.', 'storefront-sync' );
			case 'state_corrupt':
				return __( 'The saved connection is damaged. Register again.', 'storefront-sync' );
			case 'not_registered':
				return __( 'This site is not registered with the Storefront Sync service yet.', 'storefront-sync' );
			case 'registration_pending':
			case 'awaiting_ownership':
				return __( 'Registration with the Storefront Sync service has not finished yet. It is retried on every admin page load.', 'storefront-sync' );
			case 'registered':
				return __( 'This site is registered. Connect your Stora account to see your orders here.', 'storefront-sync' );
			case 'connected':
				$account = null !== $companion ? $companion->account() : null;
				if ( null === $account ) {
					return __( 'Connected to your Stora account.', 'storefront-sync' );
				}
				return self::account_label( $account );
			case 'reconnect_required':
				return self::reconnect_reason( null !== $companion ? $companion->reconnectReason() : null );
			case 'rate_limited':
				/* translators: %d: seconds to wait. */
				return sprintf( _n( 'Stora asked us to slow down. Try again in %d second.', 'Stora asked us to slow down. Try again in %d seconds.', self::rate_limited_for(), 'storefront-sync' ), self::rate_limited_for() );
			case 'registration_invalid':
				return __( 'The Storefront Sync service no longer accepts this site\'s registration. Register again, then connect.', 'storefront-sync' );
			case 'site_mismatch':
				return sprintf(
					/* translators: 1: registered address, 2: current address. */
					__( 'This site was registered as %1$s but now runs at %2$s. Tell us whether the site moved or this is a copy (staging, clone).', 'storefront-sync' ),
					null !== $companion ? (string) $companion->siteUrl() : '',
					home_url()
				);
		}
		return '';
	}

	/**
	 * "Connected to Stora account <name> (<id>)": the account the operator
	 * consented with, as the broker reported it when the connect completed.
	 * Plain text: the caller escapes it.
	 *
	 * @param array{id: string, name: string} $account Tessera's `account()`.
	 * @return string
	 */
	private static function account_label( array $account ) {
		if ( '' === $account['name'] ) {
			/* translators: %s: Stora account id. */
			return sprintf( __( 'Connected to Stora account %s', 'storefront-sync' ), $account['id'] );
		}
		/* translators: 1: Stora account name, 2: Stora account id. */
		return sprintf( __( 'Connected to Stora account %1$s (%2$s)', 'storefront-sync' ), $account['name'], $account['id'] );
	}

	/**
	 * What the "Saved connection" row says about the key.
	 *
	 * @param array{protected: bool, source: string} $key Storefront_Sync_State::key_status().
	 * @return string
	 */
	private static function key_description( array $key ) {
		switch ( $key['source'] ) {
			case 'constant':
				return __( 'Encrypted with the STOREFRONT_SYNC_STATE_KEY constant in wp-config.php.', 'storefront-sync' );
			case 'salts':
				return __( 'Encrypted with a key derived from the LOGGED_IN_KEY and LOGGED_IN_SALT security keys in wp-config.php.', 'storefront-sync' );
		}
		return __( 'Not protected: wp-config.php has no key for it (see the notice above).', 'storefront-sync' );
	}

	/**
	 * What the Tessera row of the settings page says about the implementation.
	 *
	 * @param string $type `native`, `bundled` or `missing` (Storefront_Sync_Tessera::implementation()).
	 * @return string
	 */
	private static function implementation_description( $type ) {
		switch ( $type ) {
			case 'native':
				return __( 'Requests are signed and the saved connection is encrypted by the tessera PHP extension this server loads.', 'storefront-sync' );
			case 'bundled':
				return __( 'Requests are signed and the saved connection is encrypted by the copy of Tessera this plugin ships, in plain PHP: nothing to install on the server.', 'storefront-sync' );
			default:
				return Storefront_Sync_Tessera::missing_reason();
		}
	}

	/**
	 * Why a reconnect is required.
	 *
	 * @param string|null $reason Tessera's reconnect reason.
	 * @return string
	 */
	private static function reconnect_reason( $reason ) {
		switch ( $reason ) {
			case 'stora_reconnect_required':
			case 'invalid_grant': // Authorization proxy: Stora refused to renew the access.
			case 'invalid_token': // Authorization proxy: Stora refused the access even after renewing it.
			case 'invalid_refresh_answer':
				return __( 'Your Stora account no longer grants access to this site (the access was revoked or expired). Reconnect to continue.', 'storefront-sync' );
			case 'installation_disabled':
				return __( 'The Storefront Sync service turned this site\'s connection off. Contact support, then reconnect.', 'storefront-sync' );
			default:
				return __( 'The Storefront Sync service no longer recognises this site\'s connection. Reconnect to continue.', 'storefront-sync' );
		}
	}

	/**
	 * Message for an error code (Tessera's codes, plus a few of ours).
	 *
	 * @param string $code Error code.
	 * @return string
	 */
	private static function error_message( $code ) {
		switch ( $code ) {
			case 'reconnect_required':
				return __( 'Stora access ended. Reconnect to continue.', 'storefront-sync' );
			case 'rate_limited':
				return __( 'Stora asked us to slow down. Try again shortly.', 'storefront-sync' );
			case 'server_unavailable':
				return __( 'The Storefront Sync service could not be reached or is unavailable right now. Try again later.', 'storefront-sync' );
			case 'redirected':
				return __( 'The Storefront Sync service answered with a redirect, which this plugin never follows. Check the service address.', 'storefront-sync' );
			case 'site_mismatch':
				return __( 'This site\'s address changed. Tell us whether the site moved or is a copy.', 'storefront-sync' );
			case 'callback_denied':
				return __( 'The connection was not approved at Stora.', 'storefront-sync' );
			case 'callback_state_mismatch':
			case 'callback_expired':
			case 'callback_invalid':
				return __( 'This connection attempt could not be verified or took too long. Click Connect again.', 'storefront-sync' );
			case 'registration_invalid':
				return __( 'The Storefront Sync service no longer accepts this site\'s registration. Register again.', 'storefront-sync' );
			case 'ownership_proof_invalid':
				return __( 'The Storefront Sync service could not confirm that this site is yours: it could not read the proof at /.well-known/tessera/. Check that pretty permalinks are on.', 'storefront-sync' );
			case 'not_registered':
				return __( 'This site is not registered yet.', 'storefront-sync' );
			case 'tessera_missing':
				return Storefront_Sync_Tessera::missing_reason();
			case 'invalid_enquiry':
				return __( 'Enter a name and a valid email address.', 'storefront-sync' );
			case 'client_error':
				return __( 'The Storefront Sync service refused the request.', 'storefront-sync' );
			case 'response_invalid':
				return __( 'The Storefront Sync service sent an answer this plugin cannot read; nothing of it was used. Try again later.', 'storefront-sync' );
			case 'lock_unavailable':
				return __( 'Another request of this site was renewing the access to Stora and did not finish in time. Try again.', 'storefront-sync' );
			case 'invalid_url':
			case 'insecure_broker_url':
				return __( 'The service settings were not saved: each URL must be an https address (plain http only on this computer, for development), without a query.', 'storefront-sync' );
			case 'settings_pinned':
				return __( 'The service settings are set in wp-config.php.', 'storefront-sync' );
			case 'connect_code_invalid':
				return __( 'The Storefront Sync service did not accept this connection attempt (it was already used, cancelled or took too long). Click Connect again.', 'storefront-sync' );
			default:
				/* translators: %s: error code. */
				return sprintf( __( 'Something went wrong (%s).', 'storefront-sync' ), $code );
		}
	}

	// ---- notices ----------------------------------------------------------------------------

	/**
	 * Admin notices, on every admin page, for administrators.
	 *
	 * @return void
	 */
	public static function notices() {
		if ( ! current_user_can( self::CAP ) ) {
			return;
		}
		self::flash_notice();
		self::key_notice();
		$screen = get_current_screen();
		if ( null !== $screen && 'settings_page_' . self::PAGE === $screen->id ) {
			return; // The settings page shows the status and its buttons itself.
		}
		$current = self::current();
		$status  = $current['status'];
		$name    = __( 'Storefront Sync', 'storefront-sync' );
		switch ( $status ) {
			case 'tessera_missing':
			case 'state_undecryptable':
			case 'state_corrupt':
			case 'registration_invalid':
			case 'site_mismatch':
			case 'reconnect_required':
				$type = 'site_mismatch' === $status || 'reconnect_required' === $status ? 'warning' : 'error';
				self::notice_open( $type, $status );
				printf( '<p><strong>%s:</strong> %s</p>', esc_html( $name ), esc_html( self::status_description( $status, $current['companion'] ) ) );
				echo '<div class="storefront-sync-notice-actions">';
				self::render_actions( $status, 'notice' );
				echo '</div></div>';
				break;
			case 'not_registered':
			case 'registration_pending':
			case 'awaiting_ownership':
				$health = Storefront_Sync_State::health();
				if ( isset( $health['registration_error'] ) ) {
					$error = $health['registration_error'];
					self::notice_open( 'warning', 'registration' );
					printf(
						'<p><strong>%s:</strong> %s %s %s</p>',
						esc_html( $name ),
						esc_html__( 'this site is not registered with the Storefront Sync service yet.', 'storefront-sync' ),
						esc_html( self::error_message( (string) $error['code'] ) ),
						esc_html__( 'Registration is tried again on every admin page load.', 'storefront-sync' )
					);
					echo '<div class="storefront-sync-notice-actions">';
					self::render_actions( $status, 'notice' );
					echo '</div></div>';
				}
				break;
		}
	}

	/**
	 * On every admin page, the settings page included: the saved connection
	 * is not protected by a key from wp-config.php, and what to add there.
	 *
	 * @return void
	 */
	private static function key_notice() {
		if ( ! Storefront_Sync_Tessera::available() || Storefront_Sync_State::key_status()['protected'] ) {
			return;
		}
		self::notice_open( 'error', 'state_key' );
		printf( '<p><strong>%s:</strong> %s</p>', esc_html__( 'Storefront Sync', 'storefront-sync' ), esc_html__( 'the saved connection is not protected.', 'storefront-sync' ) );
		echo Storefront_Sync_State::unprotected_description_html(); // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped -- escaped there.
		echo '</div>';
	}

	/**
	 * Opens a notice div.
	 *
	 * @param string $type notice-{type}.
	 * @param string $id   Suffix for the element id.
	 * @return void
	 */
	private static function notice_open( $type, $id ) {
		printf( '<div class="notice notice-%s storefront-sync-notice" id="storefront-sync-notice-%s">', esc_attr( $type ), esc_attr( str_replace( '_', '-', $id ) ) );
	}

	/**
	 * The result of the last action (query arguments set by finish()).
	 *
	 * @return void
	 */
	private static function flash_notice() {
		// phpcs:disable WordPress.Security.NonceVerification.Recommended -- display only.
		if ( ! isset( $_GET['page'], $_GET['sfs_notice'] ) || self::PAGE !== $_GET['page'] ) {
			return;
		}
		$notice = sanitize_key( wp_unslash( $_GET['sfs_notice'] ) );
		$ref    = isset( $_GET['sfs_ref'] ) ? sanitize_text_field( wp_unslash( $_GET['sfs_ref'] ) ) : '';
		$code   = isset( $_GET['sfs_code'] ) ? sanitize_key( wp_unslash( $_GET['sfs_code'] ) ) : '';
		// phpcs:enable
		$messages = array(
			'connected'               => __( 'Connected to Stora.', 'storefront-sync' ),
			'registered'              => __( 'This site is registered with the Storefront Sync service.', 'storefront-sync' ),
			'disconnected'            => __( 'Disconnected. The Storefront Sync service revoked this site\'s access to your Stora account.', 'storefront-sync' ),
			/* translators: %s: error code. */
			'disconnected_locally'    => sprintf( __( 'Disconnected on this site, but the Storefront Sync service could not be told (%s). Remove the access from your Stora account settings if it is still listed.', 'storefront-sync' ), $ref ),
			/* translators: %s: Stora contact id. */
			'enquiry_sent'            => sprintf( __( 'Enquiry sent to Stora as contact %s and recorded on your Stora timeline.', 'storefront-sync' ), $ref ),
			/* translators: 1: Stora contact id, 2: error code. */
			'enquiry_unrecorded'      => sprintf( __( 'Enquiry sent to Stora as contact %1$s, but the timeline entry could not be recorded (%2$s).', 'storefront-sync' ), $ref, $code ),
			'site_moved'              => __( 'The Storefront Sync service now knows this site\'s new address.', 'storefront-sync' ),
			'reset'                   => __( 'This installation was reset: its access to your Stora account is revoked and the site is registered afresh. Connect to Stora again.', 'storefront-sync' ),
			/* translators: %s: error code. */
			'reset_locally'           => sprintf( __( 'This site is registered afresh, but the Storefront Sync service could not be told to remove the old installation (%s). Remove the old access from your Stora account settings if it is still listed.', 'storefront-sync' ), $ref ),
			'previous_revoked'        => __( 'The earlier access was revoked.', 'storefront-sync' ),
			'settings_unchanged'      => __( 'The service settings are unchanged.', 'storefront-sync' ),
			'switched'                => __( 'Service settings saved: this site is registered with the chosen service. Connect to Stora to use it.', 'storefront-sync' ),
			/* translators: %s: error code. */
			'switched_locally'        => sprintf( __( 'Service settings saved and this site is registered with the chosen service, but the previous one could not be told to forget it (%s). Remove the old access from your Stora account settings if it is still listed.', 'storefront-sync' ), $ref ),
			'previous_gone'           => __( 'Nothing of the earlier registration was left.', 'storefront-sync' ),
			'previous_proof_required' => __( 'The service can only do this for a site that proved its address. The earlier registration is removed automatically after it has been unused for a while; you can also remove the app\'s access in your Stora account settings.', 'storefront-sync' ),
		);
		if ( 'error' === $notice ) {
			self::notice_open( 'error', 'result' );
			printf( '<p>%s</p></div>', esc_html( self::error_message( $ref ) ) );
		} elseif ( isset( $messages[ $notice ] ) ) {
			self::notice_open( in_array( $notice, array( 'disconnected_locally', 'reset_locally', 'switched_locally', 'previous_proof_required', 'enquiry_unrecorded' ), true ) ? 'warning' : 'success', 'result' );
			printf( '<p>%s</p></div>', esc_html( $messages[ $notice ] ) );
		}
	}

	// ---- actions (admin-post.php) ---------------------------------------------------------

	/**
	 * Capability and nonce check for an action.
	 *
	 * @param string $action Action key.
	 * @return void
	 */
	public static function begin( $action ) {
		if ( ! current_user_can( self::CAP ) ) {
			wp_die( esc_html__( 'Sorry, you are not allowed to do that.', 'storefront-sync' ), '', array( 'response' => 403 ) );
		}
		check_admin_referer( 'storefront_sync_' . $action );
		if ( ! Storefront_Sync_Tessera::available() ) {
			self::finish( 'error', 'tessera_missing' );
		}
	}

	/**
	 * Back to the settings page with a result; ends the request.
	 *
	 * @param string $notice Result code.
	 * @param string $ref    Detail (error code, contact id).
	 * @param string $code   A second detail: the error code of a part that failed.
	 * @return never
	 */
	public static function finish( $notice, $ref = '', $code = '' ) {
		$args = array( 'sfs_notice' => $notice );
		if ( '' !== $ref ) {
			$args['sfs_ref'] = rawurlencode( $ref );
		}
		if ( '' !== $code ) {
			$args['sfs_code'] = rawurlencode( $code );
		}
		wp_safe_redirect( self::page_url( $args ) );
		exit;
	}

	/**
	 * The stored installation, or an error result.
	 *
	 * @return Native\Companion|Bundled\Companion
	 * @throws Native\Exception\TesseraException|Bundled\Exception\TesseraException When the state does not open.
	 */
	private static function companion_or_fail() {
		$companion = Storefront_Sync_State::load();
		if ( null === $companion ) {
			self::finish( 'error', 'not_registered' );
		}
		return $companion;
	}

	/**
	 * "Register now": retry a registration that did not finish.
	 *
	 * @return void
	 */
	public static function handle_register() {
		self::begin( 'register' );
		delete_transient( Storefront_Sync_State::LOCK_TRANSIENT );
		Storefront_Sync_Plugin::ensure_registered();
		self::finish_registration();
	}

	/**
	 * "Register again": after the broker stopped accepting the registration,
	 * or when the saved state cannot be decrypted any more. The operator
	 * asked for it: the unreadable state is replaced by a new registration.
	 * The old installation's id (from the state when it still opens, else
	 * the plain copy kept next to it) is remembered first, so the settings
	 * page can offer to revoke the access it may still hold
	 * (Storefront_Sync_Previous).
	 *
	 * @return void
	 */
	public static function handle_register_again() {
		self::begin( 'register_again' );
		$previous = Storefront_Sync_State::install_id();
		try {
			$companion = Storefront_Sync_State::load();
		} catch ( Native\Exception\TesseraException | Bundled\Exception\TesseraException $e ) {
			Storefront_Sync_State::delete();
			$companion = null;
		}
		if ( null !== $companion && 'registration_invalid' !== $companion->status() ) {
			self::finish( 'error', 'invalid_state' );
		}
		if ( null !== $companion && null !== $companion->installId() ) {
			$previous = $companion->installId();
		}
		Storefront_Sync_Previous::remember( $previous );
		delete_transient( Storefront_Sync_State::LOCK_TRANSIENT );
		Storefront_Sync_Plugin::try_register( $companion );
		try {
			Storefront_Sync_Previous::settle( Storefront_Sync_State::load() );
		} catch ( Native\Exception\TesseraException | Bundled\Exception\TesseraException $e ) {
			unset( $e ); // Nothing stored that opens: the remembered id stays.
		}
		self::finish_registration();
	}

	/**
	 * Result of a registration attempt.
	 *
	 * @return void
	 */
	private static function finish_registration() {
		$current = self::current();
		if ( 'registered' === $current['status'] ) {
			self::finish( 'registered' );
		}
		$health = Storefront_Sync_State::health();
		self::finish( 'error', isset( $health['registration_error']['code'] ) ? (string) $health['registration_error']['code'] : $current['status'] );
	}

	/**
	 * "Connect" / "Reconnect": send the browser to the broker's signed
	 * connect URL (allowed while connected: the token is replaced when the
	 * new consent comes back).
	 *
	 * @return void
	 */
	public static function handle_connect() {
		self::begin( 'connect' );
		$url = null;
		try {
			self::companion_or_fail();
			// The link's pending connect is stored on top of the state as stored now (see update()).
			$stored = Storefront_Sync_State::update(
				static function ( $companion ) use ( &$url ) {
					$url = $companion->connectUrl( self::return_url(), Storefront_Sync_Client::SCOPE );
					return true;
				}
			);
		} catch ( Native\Exception\TesseraException | Bundled\Exception\TesseraException $e ) {
			self::finish( 'error', $e->getErrorCode() );
		}
		if ( true !== $stored || null === $url ) {
			self::finish( 'error', 'lock_unavailable' );
		}
		$broker_host = (string) wp_parse_url( $url, PHP_URL_HOST );
		add_filter(
			'allowed_redirect_hosts',
			static function ( $hosts ) use ( $broker_host ) {
				$hosts[] = $broker_host;
				return $hosts;
			}
		);
		wp_safe_redirect( $url );
		exit;
	}

	/**
	 * "Disconnect": Tessera's disconnect (the broker revokes at Stora),
	 * the broker token is dropped locally whatever the broker said.
	 *
	 * @return void
	 */
	public static function handle_disconnect() {
		self::begin( 'disconnect' );
		try {
			$companion = self::companion_or_fail();
			$result    = $companion->disconnect( Storefront_Sync_Client::transport(), null, Storefront_Sync_Client::persister() );
			Storefront_Sync_State::save_after_operation( $companion );
			Storefront_Sync_Events::forget();
		} catch ( Native\Exception\TesseraException | Bundled\Exception\TesseraException $e ) {
			self::finish( 'error', $e->getErrorCode() );
		}
		Storefront_Sync_State::update_health( array( 'rate_limited_until' => null ) );
		if ( 'failed' === $result['remote']['result'] ) {
			self::finish( 'disconnected_locally', null !== $result['remote']['error'] ? $result['remote']['error']->getErrorCode() : 'unknown' );
		}
		self::finish( 'disconnected' );
	}

	/**
	 * "Reset this installation": Tessera's reset. With the old secret, best
	 * effort, the broker revokes the old grant at Stora and forgets the old
	 * installation; then the site registers afresh (a new secret). The remedy
	 * for a secret that may have leaked.
	 *
	 * @return void
	 */
	public static function handle_reset() {
		self::begin( 'reset' );
		try {
			$companion = self::companion_or_fail();
			$result    = Storefront_Sync_Client::reset( $companion );
			Storefront_Sync_State::save_after_operation( $companion );
			Storefront_Sync_Events::forget();
		} catch ( Native\Exception\TesseraException | Bundled\Exception\TesseraException $e ) {
			self::finish( 'error', $e->getErrorCode() );
		}
		Storefront_Sync_State::update_health( array( 'rate_limited_until' => null ) );
		foreach ( array( 'disconnect', 'deregister' ) as $step ) {
			if ( 'failed' === $result[ $step ]['result'] ) {
				self::finish( 'reset_locally', null !== $result[ $step ]['error'] ? $result[ $step ]['error']->getErrorCode() : 'unknown' );
			}
		}
		self::finish( 'reset' );
	}

	/**
	 * The example POST: a website enquiry becomes a Stora contact, recorded
	 * on the operator's Stora timeline. When only the timeline entry failed
	 * the enquiry still stands, and the notice says so with the error code.
	 *
	 * @return void
	 */
	public static function handle_enquiry() {
		self::begin( 'enquiry' );
		$name  = isset( $_POST['storefront_sync_name'] ) ? sanitize_text_field( wp_unslash( $_POST['storefront_sync_name'] ) ) : '';
		$email = isset( $_POST['storefront_sync_email'] ) ? sanitize_email( wp_unslash( $_POST['storefront_sync_email'] ) ) : '';
		if ( '' === $name || ! is_email( $email ) ) {
			self::finish( 'error', 'invalid_enquiry' );
		}
		try {
			$sent = Storefront_Sync_Client::send_enquiry( self::companion_or_fail(), $name, $email );
		} catch ( Native\Exception\TesseraException | Bundled\Exception\TesseraException $e ) {
			self::finish( 'error', $e->getErrorCode() );
		}
		$contact = isset( $sent['contact']['id'] ) ? (string) $sent['contact']['id'] : '';
		if ( null !== $sent['event_error'] ) {
			self::finish( 'enquiry_unrecorded', $contact, $sent['event_error'] );
		}
		self::finish( 'enquiry_sent', $contact );
	}

	/**
	 * "This is a copy": the copied registration is forgotten here (nothing is
	 * sent: a copy must never disconnect the original) and this site
	 * registers as a new installation.
	 *
	 * @return void
	 */
	public static function handle_site_copy() {
		self::begin( 'site_copy' );
		try {
			$companion = self::companion_or_fail();
			$companion->resolveSiteAsCopy();
			Storefront_Sync_State::save( $companion );
		} catch ( Native\Exception\TesseraException | Bundled\Exception\TesseraException $e ) {
			self::finish( 'error', $e->getErrorCode() );
		}
		delete_transient( Storefront_Sync_State::LOCK_TRANSIENT );
		Storefront_Sync_Plugin::try_register( $companion );
		self::finish_registration();
	}

	/**
	 * "The site moved": the broker is told the new address (signed). When the
	 * service asks the new address to prove it is this site, as at
	 * registration, this site's proof route serves the proof from the saved
	 * state, so Tessera finishes the round in the same operation.
	 *
	 * @return void
	 */
	public static function handle_site_moved() {
		self::begin( 'site_moved' );
		try {
			$companion = self::companion_or_fail();
			$companion->siteMoved( Storefront_Sync_Client::transport(), null, Storefront_Sync_Client::persister(), Storefront_Sync_Client::proof_server() );
		} catch ( Native\Exception\TesseraException | Bundled\Exception\TesseraException $e ) {
			self::finish( 'error', $e->getErrorCode() );
		}
		self::finish( 'site_moved' );
	}

	/**
	 * "Save service settings": the broker or the authorization proxy
	 * (Storefront_Sync_Settings). Tessera checks the URLs (a companion is
	 * made from them; nothing is sent). Other settings than before take
	 * effect at once: the current installation leaves its service and the
	 * site registers with the new one (Storefront_Sync_Plugin::switch_service()).
	 *
	 * @return void
	 */
	public static function handle_settings() {
		self::begin( 'settings' );
		if ( Storefront_Sync_Settings::pinned() ) {
			self::finish( 'error', 'settings_pinned' );
		}
		$posted = Storefront_Sync_Settings::normalise(
			array(
				'mode'          => isset( $_POST['storefront_sync_mode'] ) ? sanitize_key( wp_unslash( $_POST['storefront_sync_mode'] ) ) : '',
				'proxy_url'     => isset( $_POST['storefront_sync_proxy_url'] ) ? esc_url_raw( wp_unslash( $_POST['storefront_sync_proxy_url'] ) ) : '',
				'stora_api_url' => isset( $_POST['storefront_sync_stora_api_url'] ) ? esc_url_raw( wp_unslash( $_POST['storefront_sync_stora_api_url'] ) ) : '',
			)
		);
		if ( Storefront_Sync_Settings::get() === $posted ) {
			self::finish( 'settings_unchanged' );
		}
		try {
			Storefront_Sync_Client::create( $posted );
		} catch ( Native\Exception\TesseraException | Bundled\Exception\TesseraException $e ) {
			self::finish( 'error', $e->getErrorCode() );
		}
		Storefront_Sync_Settings::save( $posted );
		$failed = Storefront_Sync_Plugin::switch_service();
		if ( 'registered' !== self::current()['status'] ) {
			self::finish_registration();
		}
		if ( null !== $failed ) {
			self::finish( 'switched_locally', $failed );
		}
		self::finish( 'switched' );
	}
}
