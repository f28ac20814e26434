<?php
/**
 * Plugin Name:       Storefront Sync
 * Plugin URI:        https://example.com/storefront-sync
 * Description:       Example partner plugin for Stora: connects this site to the operator's Stora account through the partner's broker (or its authorization proxy) and shows recent orders. All protocol work is done by Tessera: the tessera PHP extension where the host loads it, else the copy bundled with the plugin.
 * Version:           1.0.0
 * Requires at least: 6.1
 * Requires PHP:      8.2
 * Author:            Example Partner
 * License:           MIT
 * License URI:       https://opensource.org/licenses/MIT
 * Text Domain:       storefront-sync
 * Domain Path:       /languages
 *
 * @package StorefrontSync
 */

defined( 'ABSPATH' ) || exit;

define( 'STOREFRONT_SYNC_VERSION', '1.0.0' );
define( 'STOREFRONT_SYNC_FILE', __FILE__ );
define( 'STOREFRONT_SYNC_DIR', plugin_dir_path( __FILE__ ) );

require_once STOREFRONT_SYNC_DIR . 'includes/class-storefront-sync-tessera.php';
require_once STOREFRONT_SYNC_DIR . 'includes/class-storefront-sync-settings.php';
require_once STOREFRONT_SYNC_DIR . 'includes/class-storefront-sync-state.php';
require_once STOREFRONT_SYNC_DIR . 'includes/class-storefront-sync-client.php';
require_once STOREFRONT_SYNC_DIR . 'includes/class-storefront-sync-events.php';
require_once STOREFRONT_SYNC_DIR . 'includes/class-storefront-sync-ownership.php';
require_once STOREFRONT_SYNC_DIR . 'includes/class-storefront-sync-previous.php';
require_once STOREFRONT_SYNC_DIR . 'includes/class-storefront-sync-admin.php';
require_once STOREFRONT_SYNC_DIR . 'includes/class-storefront-sync-plugin.php';

register_activation_hook( __FILE__, array( 'Storefront_Sync_Plugin', 'activate' ) );
register_deactivation_hook( __FILE__, array( 'Storefront_Sync_Plugin', 'deactivate' ) );

Storefront_Sync_Plugin::boot();
