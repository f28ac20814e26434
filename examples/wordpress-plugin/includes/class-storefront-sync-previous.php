<?php
/**
 * The earlier registration "Register again" left behind.
 *
 * After "Register again" (the saved connection no longer opens,
 * `state_undecryptable`, or the service refused the registration,
 * `registration_invalid`) this site is a NEW installation. The old one may
 * still hold access to the operator's Stora account, and the plugin can no
 * longer sign as it. Its id is not a secret and is kept outside the sealed
 * state (Storefront_Sync_State::INSTALL_ID_OPTION), so "Register again"
 * remembers it here, and the settings page offers to revoke it: a request
 * signed by the NEW installation (Tessera's `revokePrevious()`,
 * docs/PROTOCOL.md §5.11). The service does that only for a site that proved
 * its address (its ownership proof at /.well-known/tessera/); otherwise it
 * answers `ownership_proof_required` and the old registration ends when it
 * has been unused for a while (the service's idle limit), or when the
 * operator removes the app's access in the Stora account settings.
 *
 * @package StorefrontSync
 */

defined( 'ABSPATH' ) || exit;

use Tessera as Native;
use StorefrontSync\Vendor\Tessera as Bundled;

/**
 * "Revoke the earlier access".
 */
final class Storefront_Sync_Previous {

	/** The admin-post.php action (admin-post.php?action=storefront_sync_revoke_previous). */
	const ACTION = 'revoke_previous';

	/** Statuses in which the current installation can sign the request. */
	const SIGNING_STATUSES = array( 'registered', 'connected', 'rate_limited', 'reconnect_required' );

	/**
	 * Hooks (admin only).
	 *
	 * @return void
	 */
	public static function hooks() {
		add_action( 'admin_post_storefront_sync_' . self::ACTION, array( __CLASS__, 'handle_revoke' ) );
	}

	/**
	 * The remembered earlier install id, or null.
	 *
	 * @return string|null
	 */
	public static function get() {
		$id = get_option( Storefront_Sync_State::PREVIOUS_INSTALL_ID_OPTION, '' );
		return is_string( $id ) && '' !== $id ? $id : null;
	}

	/**
	 * Remembers the id of the installation "Register again" is about to
	 * replace (call it before registering anew). Null changes nothing.
	 *
	 * @param string|null $install_id The old installation's id.
	 * @return void
	 */
	public static function remember( $install_id ) {
		if ( is_string( $install_id ) && '' !== $install_id ) {
			update_option( Storefront_Sync_State::PREVIOUS_INSTALL_ID_OPTION, $install_id, false );
		}
	}

	/**
	 * Forgets the earlier install id.
	 *
	 * @return void
	 */
	public static function forget() {
		delete_option( Storefront_Sync_State::PREVIOUS_INSTALL_ID_OPTION );
	}

	/**
	 * After registering anew: a remembered id that is today's own (the same
	 * installation registered again) is no earlier registration.
	 *
	 * @param Native\Companion|Bundled\Companion|null $companion The installation now stored, if any.
	 * @return void
	 */
	public static function settle( $companion ) {
		$previous = self::get();
		if ( null !== $previous && null !== $companion && $companion->installId() === $previous ) {
			self::forget();
		}
	}

	/**
	 * The earlier install id to offer revoking on the settings page: one is
	 * remembered, it is not this installation's own, and this installation
	 * is registered (it signs the request).
	 *
	 * @param string                                  $status    View status.
	 * @param Native\Companion|Bundled\Companion|null $companion The installation.
	 * @return string|null
	 */
	public static function pending( $status, $companion ) {
		$previous = self::get();
		if ( null === $previous || null === $companion || ! in_array( $status, self::SIGNING_STATUSES, true ) ) {
			return null;
		}
		return $companion->installId() === $previous ? null : $previous;
	}

	/**
	 * The notice on the settings page, with its button.
	 *
	 * @param string                                  $status    View status.
	 * @param Native\Companion|Bundled\Companion|null $companion The installation.
	 * @return void
	 */
	public static function render_notice( $status, $companion ) {
		$previous = self::pending( $status, $companion );
		if ( null === $previous ) {
			return;
		}
		?>
		<div class="notice notice-warning inline storefront-sync-notice" id="storefront-sync-previous" data-install-id="<?php echo esc_attr( $previous ); ?>">
			<p><?php esc_html_e( 'An earlier registration of this site may still have access to your Stora account.', 'storefront-sync' ); ?></p>
			<p class="description">
				<?php
				/* translators: %s: install id of the earlier registration. */
				echo esc_html( sprintf( __( 'Earlier installation: %s', 'storefront-sync' ), $previous ) );
				?>
			</p>
			<form method="post" action="<?php echo esc_url( admin_url( 'admin-post.php' ) ); ?>" class="storefront-sync-inline">
				<input type="hidden" name="action" value="<?php echo esc_attr( 'storefront_sync_' . self::ACTION ); ?>" />
				<?php wp_nonce_field( 'storefront_sync_' . self::ACTION, '_wpnonce', false ); ?>
				<p><button type="submit" class="button button-secondary" id="storefront-sync-revoke-previous"><?php esc_html_e( 'Revoke the earlier access', 'storefront-sync' ); ?></button></p>
			</form>
		</div>
		<?php
	}

	/**
	 * "Revoke the earlier access" (admin-post.php): capability and nonce,
	 * then revoke(), then back to the settings page with its result.
	 *
	 * @return void
	 */
	public static function handle_revoke() {
		Storefront_Sync_Admin::begin( self::ACTION );
		list( $notice, $ref ) = self::revoke();
		Storefront_Sync_Admin::finish( $notice, $ref );
	}

	/**
	 * Tessera's revokePrevious(), signed by this installation. Revoked, or
	 * nothing left → the id is forgotten. The service cannot do it (it never
	 * saw this site prove its address: `ownership_proof_required`) → the id
	 * is forgotten too (the button could not work) and the notice says what
	 * else ends the old access. Any other error → the id is kept so the
	 * operator can try again.
	 *
	 * @return array{0: string, 1: string} The result notice for the settings page and its detail (an error code).
	 */
	public static function revoke() {
		$previous = self::get();
		if ( null === $previous ) {
			return array( 'previous_gone', '' );
		}
		try {
			$companion = Storefront_Sync_State::load();
			if ( null === $companion ) {
				return array( 'error', 'not_registered' );
			}
			if ( $companion->installId() === $previous ) {
				self::forget();
				return array( 'previous_gone', '' );
			}
			$result = $companion->revokePrevious( $previous, Storefront_Sync_Client::transport(), null, Storefront_Sync_Client::persister() );
		} catch ( Native\Exception\ClientErrorException | Bundled\Exception\ClientErrorException $e ) {
			if ( 'ownership_proof_required' === $e->getReason() ) {
				self::forget();
				return array( 'previous_proof_required', '' );
			}
			return array( 'error', $e->getErrorCode() );
		} catch ( Native\Exception\TesseraException | Bundled\Exception\TesseraException $e ) {
			return array( 'error', $e->getErrorCode() );
		}
		self::forget();
		return array( ! empty( $result['revoked'] ) ? 'previous_revoked' : 'previous_gone', '' );
	}
}
