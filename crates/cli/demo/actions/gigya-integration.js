/**
 * Links the broker's user to the Gigya account it came from.
 *
 * Users of the Cencora connection have ids of the form `oidc|Cencora|<Gigya UID>`. The UID is
 * put on both tokens as `cencora_user_id`, and app_metadata records that the application
 * still has to fetch the account from Gigya.
 */
exports.onExecutePostLogin = async (event, api) => {
  const cencoraUserId = event.user.user_id.split('|')[2];
  if (!cencoraUserId) {
    return;
  }

  api.idToken.setCustomClaim('cencora_user_id', cencoraUserId);
  api.accessToken.setCustomClaim('cencora_user_id', cencoraUserId);

  api.user.setAppMetadata('gigya_integration', {
    cencora_user_id: cencoraUserId,
    last_login: new Date().toISOString(),
  });
  api.user.setAppMetadata('needs_gigya_sync', true);
};
