<?php
/**
 * Uninstall (Plugins → Delete): Tessera's uninstall plan (disconnect
 * and deregister at the broker, best effort; with the authorization proxy:
 * revoke the Stora tokens through it and deregister, under the site's lock),
 * then every option of the plugin is deleted whatever the network said.
 *
 * @package StorefrontSync
 */

defined( 'WP_UNINSTALL_PLUGIN' ) || exit;

require_once __DIR__ . '/includes/class-storefront-sync-tessera.php';
require_once __DIR__ . '/includes/class-storefront-sync-settings.php';
require_once __DIR__ . '/includes/class-storefront-sync-state.php';
require_once __DIR__ . '/includes/class-storefront-sync-client.php';
require_once __DIR__ . '/includes/class-storefront-sync-events.php';

if ( Storefront_Sync_Tessera::available() ) {
	try {
		$storefront_sync_companion = Storefront_Sync_State::load();
		if ( null !== $storefront_sync_companion ) {
			// Compare the site address first: uninstall can run where no admin
			// page ever did (WP-CLI on a cloned database), and a copy must skip
			// the remote steps so it never disconnects or deregisters the
			// original. Tessera decides. Nothing is persisted: the state
			// is deleted below.
			$storefront_sync_companion->checkSite( home_url() );
			$storefront_sync_report = $storefront_sync_companion->uninstall( Storefront_Sync_Client::transport() );
			foreach ( $storefront_sync_report as $storefront_sync_step => $storefront_sync_result ) {
				if ( 'failed' === $storefront_sync_result['result'] ) {
					// phpcs:ignore WordPress.PHP.DevelopmentFunctions.error_log_error_log -- the only place to report what failed.
					error_log( sprintf( 'Storefront Sync uninstall: %s failed (%s); local data deleted anyway.', $storefront_sync_step, $storefront_sync_result['error'] ? $storefront_sync_result['error']->getErrorCode() : 'unknown' ) );
				}
			}
		}
	} catch ( \Tessera\Exception\TesseraException | \StorefrontSync\Vendor\Tessera\Exception\TesseraException $storefront_sync_error ) {
		// The state cannot be opened (changed salts): nothing can be signed, so
		// the broker cannot be told. The local data goes anyway.
		// phpcs:ignore WordPress.PHP.DevelopmentFunctions.error_log_error_log
		error_log( 'Storefront Sync uninstall: ' . $storefront_sync_error->getErrorCode() . '; the broker was not told; local data deleted anyway.' );
	}
}

Storefront_Sync_State::delete_all();
