"""Secret formats detect-secrets lacks, written from each vendor's documented token format.

Data, not code: one :class:`Format` per token shape, with the document that
defines it and one synthetic example (random characters in the documented
shape, never a real key) that the unit tests require every format to catch.
Regexes are RE2 syntax, case-sensitive unless they start with ``(?i)``; a
format with ``group`` > 0 judges only that capture group (the password inside a
URL, the value after a keyword). Prefixes carry no leading ``\\b``, so a
secret split over two adjacent fields still matches once they are joined.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CATALOGUE", "KNOWN_EXAMPLES", "Format"]


@dataclass(frozen=True, slots=True)
class Format:
    """One documented token format."""

    id: str
    reason: str
    regex: str
    source: str
    example: str
    group: int = 0
    #: Minimum Shannon entropy (bits per character) of the judged text.
    min_entropy: float = 3.0


CATALOGUE: tuple[Format, ...] = (
    Format(
        "secret:mailgun-key",
        "Mailgun private API key (key- format)",
        r"key-[0-9a-f]{32}",
        "https://documentation.mailgun.com/docs/mailgun/api-reference/authentication"
        " (private API keys: key- followed by 32 hex characters)",
        "key-3f9c1a7e5b2d8046c1e9a7f3b5d2c804",
    ),
    Format(
        "secret:datadog-key",
        "Datadog API or application key named as such",
        r"(?i)(?:datadog|\bdd)[_ -]?(?:api|app(?:lication)?)?[_ -]?key\W{0,8}"
        r"([0-9a-f]{32}(?:[0-9a-f]{8})?)\b",
        "https://docs.datadoghq.com/account_management/api-app-keys/"
        " (API keys: 32 hex characters, application keys: 40; no prefix, so the name decides)",
        "datadog api key 7c1e9a4f3b5d2c80a6f19e3b7d4c2a58",
        group=1,
    ),
    Format(
        "secret:stripe-key",
        "Stripe live secret or restricted key",
        r"(?:sk|rk)_live_[0-9A-Za-z]{24,247}",
        "https://docs.stripe.com/keys#obtain-api-keys (sk_live_ / rk_live_ prefixes)",
        "sk_live_51Nq8ZrE4kTgW7yHc2VbXm9PdLs3QfA6u",
    ),
    Format(
        "secret:anthropic-key",
        "Anthropic API key",
        r"sk-ant-(?:api|admin|sid)\d{2}-[A-Za-z0-9_-]{32,200}",
        "https://docs.anthropic.com/en/api/getting-started (x-api-key: sk-ant-api03-...)",
        "sk-ant-api03-Zq_8-Kd2mVt7Lp4XwRb9NcYe3Hs6Ga1Uf5Jo0Ti",
    ),
    Format(
        "secret:openai-key",
        "OpenAI API key (project, service account or admin)",
        r"sk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{40,250}",
        "https://platform.openai.com/docs/api-reference/authentication (sk-proj- keys)",
        "sk-proj-x_-Q8mZ2Vt7Lp4XwRb9NcYe3Hs6Ga1Uf5Jo0TiKd2mVt7Lp4Xw",
    ),
    Format(
        "secret:openai-key",
        "OpenAI API key (legacy user key)",
        r"sk-[A-Za-z0-9]{32,64}",
        "https://help.openai.com/en/articles/4936850 (sk- followed by 48 characters)",
        "sk-Zq8Kd2mVt7Lp4XwRb9NcYe3Hs6Ga1Uf5Jo0TiQz",
    ),
    Format(
        "secret:google-api-key",
        "Google API key",
        r"AIza[0-9A-Za-z_-]{35}",
        "https://cloud.google.com/docs/authentication/api-keys (keys start with AIza)",
        "AIzaSyB7x-Q2mZ8Vt4Lp9XwRb3NcYe6Hs1Ga5Uf",
    ),
    Format(
        "secret:google-oauth-secret",
        "Google OAuth client secret",
        r"GOCSPX-[0-9A-Za-z_-]{28}",
        "https://developers.google.com/identity/protocols/oauth2 (client secrets: GOCSPX-)",
        "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",
    ),
    Format(
        "secret:huggingface-token",
        "Hugging Face access token",
        r"hf_[A-Za-z0-9]{30,40}",
        "https://huggingface.co/docs/hub/security-tokens (user access tokens start with hf_)",
        "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",
    ),
    Format(
        "secret:npm-token",
        "npm access token",
        r"npm_[A-Za-z0-9]{36}",
        "https://github.blog/2021-09-23-announcing-npms-new-access-token-format/ (npm_ + 36)",
        "npm_Zq8Kd2mVt7Lp4XwRb9NcYe3Hs6Ga1Uf5Jo0T",
    ),
    Format(
        "secret:gitlab-token",
        "GitLab personal, deploy, runner or OAuth token",
        r"(?:glpat|gldt|glrt|gloas|glptt|glsoat|glft|glimt|glcbt)-[0-9A-Za-z_-]{20,64}",
        "https://docs.gitlab.com/ee/security/tokens/ (token prefixes table)",
        "glpat-Zq8Kd2mVt7Lp4XwRb9Nc",
    ),
    Format(
        "secret:github-token",
        "GitHub fine-grained personal access token",
        r"github_pat_[0-9A-Za-z_]{40,255}",
        "https://github.blog/2022-10-18-introducing-fine-grained-personal-access-tokens/",
        "github_pat_11AZQ8KD20mVt7Lp4XwRb9_NcYe3Hs6Ga1Uf5Jo0TiQzBnMx",
    ),
    Format(
        "secret:github-token",
        "GitHub token",
        r"gh[pousr]_[A-Za-z0-9]{36,255}",
        "https://github.blog/2021-04-05-behind-githubs-new-authentication-token-formats/",
        "ghp_Zq8Kd2mVt7Lp4XwRb9NcYe3Hs6Ga1Uf5Jo0T",
    ),
    Format(
        "secret:sendgrid-key",
        "SendGrid API key",
        r"SG\.[0-9A-Za-z_-]{22}\.[0-9A-Za-z_-]{43}",
        "https://www.twilio.com/docs/sendgrid/ui/account-and-settings/api-keys (SG.<22>.<43>)",
        "SG.Zq8Kd2mVt7Lp4XwRb9NcYe.3Hs6Ga1Uf5Jo0TiQzBnMxWk2Lp7Vt9Rb4Nc6Ye8Hs1Ga3Uf",
    ),
    Format(
        "secret:twilio-key",
        "Twilio account SID with auth token, or API key SID",
        r"(?:AC|SK)[0-9a-f]{32}",
        "https://www.twilio.com/docs/glossary/what-is-a-sid (AC / SK + 32 hex)",
        "SK7a9c3e1f5b2d4086a8c0e2f4b6d8a1c3",
    ),
    Format(
        "secret:discord-token",
        "Discord bot token",
        r"[MNO][A-Za-z0-9_-]{23,27}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,40}",
        "https://discord.com/developers/docs/reference#authentication (Bot <token>)",
        "MTk4NjIyNDgzNDcxOTI1MjQ4.Cl2FMQ.ZnCjm1XVW7vRze4b7Cq4se7kKWs",
    ),
    Format(
        "secret:discord-webhook",
        "Discord webhook URL",
        r"discord(?:app)?\.com/api/webhooks/\d{17,20}/[A-Za-z0-9_-]{60,70}",
        "https://discord.com/developers/docs/resources/webhook#execute-webhook",
        "https://discord.com/api/webhooks/123456789012345678/Zq8Kd2mVt7Lp4XwRb9NcYe3Hs6Ga1Uf5Jo0TiQzBnMxWk2Lp7Vt9Rb4Nc6Ye8Hs1Ga3",
    ),
    Format(
        "secret:slack-webhook",
        "Slack incoming webhook URL",
        r"hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/]{30,}",
        "https://api.slack.com/messaging/webhooks",
        "https://hooks.slack.com/services/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",
    ),
    Format(
        "secret:slack-token",
        "Slack app-level token",
        r"xapp-\d-[A-Za-z0-9]{6,}-\d{6,}-[A-Za-z0-9]{20,}",
        "https://api.slack.com/authentication/token-types#app-level",
        "xapp-1-A0ZQ8KD2MV-1357924680246-7a9c3e1f5b2d4086a8c0e2f4b6d8a1c3",
    ),
    Format(
        "secret:slack-token",
        "Slack token",
        r"xox[abposre]-[0-9A-Za-z-]{10,250}",
        "https://api.slack.com/concepts/token-types",
        "xoxb-2468013579-1357924680-Zq8Kd2mVt7Lp4XwRb9NcYe3H",
    ),
    Format(
        "secret:private-key",
        "PGP private key block",
        r"-----BEGIN PGP PRIVATE KEY BLOCK-----",
        "https://www.rfc-editor.org/rfc/rfc4880#section-6.2 (armor header line)",
        "-----BEGIN PGP PRIVATE KEY BLOCK-----",
        min_entropy=0.0,
    ),
    Format(
        "secret:private-key",
        "PEM private key",
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----",
        "https://www.rfc-editor.org/rfc/rfc7468#section-10 (PRIVATE KEY labels)",
        "-----BEGIN ENCRYPTED PRIVATE KEY-----",
        min_entropy=0.0,
    ),
    Format(
        "secret:azure-storage-key",
        "Azure storage account key in a connection string",
        r"(?i)AccountKey=([A-Za-z0-9+/]{86}==)",
        "https://learn.microsoft.com/azure/storage/common/storage-configure-connection-string",
        "DefaultEndpointsProtocol=https;AccountName=x;AccountKey="
        "Zq8Kd2mVt7Lp4XwRb9NcYe3Hs6Ga1Uf5Jo0TiQzBnMxWk2Lp7Vt9Rb4Nc6Ye8Hs1Ga3Uf5Jo0TiQzBnMxWk2Lp7Vt9Rb==",
        group=1,
    ),
    Format(
        "secret:azure-sas",
        "Azure shared access signature URL",
        r"(?i)[?&]sv=\d{4}-\d{2}-\d{2}&[^\s\"'<>]{0,400}?\bsig=([A-Za-z0-9%/+]{30,}={0,2})",
        "https://learn.microsoft.com/rest/api/storageservices/create-service-sas (sv, sig)",
        "https://a.blob.core.windows.net/c/b?sv=2022-11-02&sp=r&sig=Zq8Kd2mVt7Lp4XwRb9NcYe3Hs6Ga1Uf5Jo0TiQz%3D",
        group=1,
    ),
    Format(
        "secret:database-url",
        "database URL with a password",
        r"(?i)(?:postgres(?:ql)?|mysql|mariadb|mongodb(?:\+srv)?|rediss?|amqps?|mssql|sqlserver"
        r"|oracle|cockroachdb|clickhouse)(?:\+\w+)?://[^:/\s@]{0,64}:([^@/\s]{3,128})@",
        "https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-CONNSTRING-URIS",
        "postgresql://app:Zq8Kd2mVt7Lp4Xw@db.internal:5432/app",
        group=1,
        min_entropy=2.5,
    ),
    Format(
        "secret:aws-secret-key",
        "AWS secret access key next to its name",
        r"(?i)aws_?secret_?(?:access_?)?key[\"'\s]{0,3}[:=][\"'\s]{0,3}([A-Za-z0-9/+]{40})",
        "https://docs.aws.amazon.com/cli/latest/userguide/cli-configure-files.html",
        "aws_secret_access_key = Zq8Kd2mVt7Lp4XwRb9NcYe3Hs6Ga1Uf5Jo0TiQzB",
        group=1,
    ),
    Format(
        "secret:square-token",
        "Square access token",
        # EAAA tokens are only taken at a token start: the same letters occur inside base64.
        r"(?:sq0atp-[0-9A-Za-z_-]{22}|(?:^|[^0-9A-Za-z+/=_-])EAAA[0-9A-Za-z_-]{60})",
        "https://developer.squareup.com/docs/build-basics/access-tokens",
        "sq0atp-Zq8Kd2mVt7Lp4XwRb9NcYe",
    ),
    Format(
        "secret:shopify-token",
        "Shopify access token",
        r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}",
        "https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens",
        "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",
    ),
    Format(
        "secret:digitalocean-token",
        "DigitalOcean token",
        r"do[opr]_v1_[a-f0-9]{64}",
        "https://docs.digitalocean.com/reference/api/create-personal-access-token/",
        "dop_v1_7a9c3e1f5b2d4086a8c0e2f4b6d8a1c37a9c3e1f5b2d4086a8c0e2f4b6d8a1c3",
    ),
    Format(
        "secret:vault-token",
        "HashiCorp Vault token",
        r"hv[sbr]\.[A-Za-z0-9_-]{24,}",
        "https://developer.hashicorp.com/vault/docs/concepts/tokens#token-prefixes",
        "hvs.Zq8Kd2mVt7Lp4XwRb9NcYe3H",
    ),
    Format(
        "secret:databricks-token",
        "Databricks personal access token",
        r"dapi[a-f0-9]{32}(?:-\d)?",
        "https://docs.databricks.com/en/dev-tools/auth/pat.html",
        "dapi7a9c3e1f5b2d4086a8c0e2f4b6d8a1c3",
    ),
    Format(
        "secret:linear-key",
        "Linear API key",
        r"lin_(?:api|oauth)_[A-Za-z0-9]{40}",
        "https://developers.linear.app/docs/graphql/working-with-the-graphql-api#personal-api-keys",
        "lin_api_Zq8Kd2mVt7Lp4XwRb9NcYe3Hs6Ga1Uf5Jo0TiQzB",
    ),
    Format(
        "secret:groq-key",
        "Groq API key",
        r"gsk_[A-Za-z0-9]{48,56}",
        "https://console.groq.com/docs/quickstart (GROQ_API_KEY=gsk_...)",
        "gsk_Zq8Kd2mVt7Lp4XwRb9NcYe3Hs6Ga1Uf5Jo0TiQzBnMxWk2Lp7Vt9Rb",
    ),
    Format(
        "secret:replicate-token",
        "Replicate API token",
        r"r8_[A-Za-z0-9]{37}",
        "https://replicate.com/docs/reference/http#authentication",
        "r8_Zq8Kd2mVt7Lp4XwRb9NcYe3Hs6Ga1Uf5Jo0TiQ",
    ),
    Format(
        "secret:telegram-token",
        "Telegram bot token",
        r"\d{8,10}:AA[0-9A-Za-z_-]{33}",
        "https://core.telegram.org/bots/api#authorizing-your-bot",
        "1234567890:AAZq8Kd2mVt7Lp4XwRb9NcYe3Hs6Ga1Uf5Jo",
    ),
    Format(
        "secret:atlassian-token",
        "Atlassian API token",
        r"ATATT3[A-Za-z0-9_=-]{150,200}",
        "https://support.atlassian.com/atlassian-account/docs/manage-api-tokens-for-your-atlassian-account/",
        "ATATT3" + "xFfGF0Zq8Kd2mVt7Lp4XwRb9NcYe3Hs6Ga1Uf5Jo0TiQzBnMxWk2Lp7Vt9Rb4Nc6Ye8Hs1Ga3Uf"
        "5Jo0TiQzBnMxWk2Lp7Vt9Rb4Nc6Ye8Hs1Ga3Uf5Jo0TiQzBnMxWk2Lp7Vt9Rb4Nc6Ye8Hs1Ga3Uf5J=ABCD1234",
    ),
    Format(
        "secret:postman-key",
        "Postman API key",
        r"PMAK-[a-f0-9]{24}-[a-f0-9]{34}",
        "https://learning.postman.com/docs/developer/postman-api/authentication/",
        "PMAK-7a9c3e1f5b2d4086a8c0e2f4-b6d8a1c37a9c3e1f5b2d4086a8c0e2f4b6",
    ),
    Format(
        "secret:mapbox-token",
        "Mapbox secret access token",
        r"sk\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{20,}",
        "https://docs.mapbox.com/accounts/guides/tokens/ (secret tokens start with sk.)",
        "sk.eyJ1IjoiWnE4S2QybVZ0N0xwNFh3UmI5TmNZZTNIczZHYTE.Zq8Kd2mVt7Lp4XwRb9NcYe",
    ),
    Format(
        "secret:age-key",
        "age encryption secret key",
        r"AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}",
        "https://age-encryption.org/v1 (Bech32 secret key, HRP AGE-SECRET-KEY-)",
        "AGE-SECRET-KEY-1" + "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L" + "QPZRY9X8GF2TVDW0S3JN54KHCE6MU",
    ),
    Format(
        "secret:basic-auth",
        "HTTP Basic credentials",
        r"(?i)authorization[\"']?\s{0,3}[:=]\s{0,3}[\"']?basic\s+([A-Za-z0-9+/]{8,}={0,2})",
        "https://www.rfc-editor.org/rfc/rfc7617 (Basic base64(user:password))",
        "Authorization: Basic YWRtaW46WnE4S2QybVZ0N0xwNFh3Ug==",
        group=1,
    ),
    Format(
        "secret:password",
        "hard-coded password",
        r"(?i)(?:^|[^a-z0-9])(?:[a-z0-9]+_)?(?:password|passwd|pwd|passphrase)[\"']?\s{0,3}"
        r"(?::=|=>|[:=])\s{0,3}[\"']?([^\s\"',;]{4,128})",
        "common configuration syntax: KEY=value, key: value, key := value",
        "DB_PASSWORD=Zq8Kd2mVt7",
        group=1,
        min_entropy=2.3,
    ),
    Format(
        "secret:credential-assignment",
        "secret, token or API key assigned in text",
        r"(?i)(?:^|[^a-z0-9])(?:[a-z0-9]+_)?(?:secret|api_?key|auth_?token|access_?token"
        r"|api_?token|app_?secret|webhook_?secret|signing_?key|client_?secret|secret_?key"
        r"|private_?key|bearer)[\"']?\s{0,3}(?::=|=>|[:=]|\s)\s{0,3}"
        r"[\"']?([A-Za-z0-9_./+=-]{16,256})",
        "common configuration syntax: KEY=value, key: value, Authorization: Bearer value",
        "client_secret: Zq8Kd2mVt7Lp4XwRb9NcYe3H",
        group=1,
        min_entropy=3.2,
    ),
)


#: Values vendors publish in their documentation as examples: shown in docs, never live.
KNOWN_EXAMPLES: tuple[tuple[str, str], ...] = (
    (
        "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
        "https://jwt.io/ (the debugger's sample HS256 token)",
    ),
    (
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "https://docs.aws.amazon.com/IAM/latest/UserGuide/",
    ),
    ("AKIAIOSFODNN7EXAMPLE", "https://docs.aws.amazon.com/IAM/latest/UserGuide/"),
    (
        "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
        "https://docs.stripe.com/ (the API reference's sample test key)",
    ),
)
