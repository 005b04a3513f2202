/*
 * pam_p23test.c - a PAM module for tests/integ/test_pam.py only (built
 * for "make check", never installed).  It drives pop23d's PAM
 * conversation function the way odd PAM stacks do, and writes what it
 * got back into a file the test reads.
 *
 * PRIVILEGE: loaded by libpam inside pop23d's monitor (root) during the
 * test.
 *
 * Arguments (in the service file):
 *	out=PATH	file the module writes its findings to (required)
 *	mode=echo_on	ask one PAM_PROMPT_ECHO_ON question
 *	mode=prompts:N	ask N password (echo-off) prompts, one per call
 *	mode=batch:N	ask N password prompts in one call
 *	mode=notes	send an info and an error message, then succeed
 * The module succeeds when every question it asked was answered, and
 * fails (PAM_AUTH_ERR) otherwise.  The findings are lines of text:
 * "asked N", "answered N", "conv-error CODE", "echo-on-answer LEN".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <security/pam_appl.h>
#include <security/pam_modules.h>

#define P23_PROMPTS_MAX	16

int pam_sm_authenticate(pam_handle_t *, int, int, const char **);
int pam_sm_setcred(pam_handle_t *, int, int, const char **);

static const char *
arg(int argc, const char **argv, const char *name)
{
	size_t n = strlen(name);
	int i;

	for (i = 0; i < argc; i++)
		if (strncmp(argv[i], name, n) == 0 && argv[i][n] == '=')
			return argv[i] + n + 1;
	return NULL;
}

/* Ask N questions of STYLE in one conversation call; count the answers
 * into *ANSWERED (each wiped).  The conversation's result. */
static int
ask(const struct pam_conv *conv, int style, int n, int *answered,
    size_t *len_r)
{
	struct pam_message m[P23_PROMPTS_MAX];
	const struct pam_message *mp[P23_PROMPTS_MAX];
	struct pam_response *resp = NULL;
	int i, r;

	for (i = 0; i < n; i++) {
		m[i].msg_style = style;
		m[i].msg = style == PAM_PROMPT_ECHO_ON ? "Visible token: " :
		    "Password: ";
		mp[i] = &m[i];
	}
	r = conv->conv(n, mp, &resp, conv->appdata_ptr);
	if (r != PAM_SUCCESS || resp == NULL)
		return r != PAM_SUCCESS ? r : PAM_CONV_ERR;
	for (i = 0; i < n; i++) {
		if (resp[i].resp != NULL) {
			(*answered)++;
			if (len_r != NULL)
				*len_r = strlen(resp[i].resp);
			memset(resp[i].resp, 0, strlen(resp[i].resp));
			free(resp[i].resp);
		}
	}
	free(resp);
	return PAM_SUCCESS;
}

int
pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc,
    const char **argv)
{
	const char *out = arg(argc, argv, "out");
	const char *mode = arg(argc, argv, "mode");
	const struct pam_conv *conv = NULL;
	int answered = 0, asked = 0, n = 0, r = PAM_SUCCESS, i;
	size_t len = 0;
	FILE *f;

	(void)flags;
	if (out == NULL || mode == NULL ||
	    pam_get_item(pamh, PAM_CONV, (const void **)&conv) != PAM_SUCCESS ||
	    conv == NULL || (f = fopen(out, "a")) == NULL)
		return PAM_SERVICE_ERR;
	if (strcmp(mode, "echo_on") == 0) {
		asked = 1;
		r = ask(conv, PAM_PROMPT_ECHO_ON, 1, &answered, &len);
		if (answered > 0)
			fprintf(f, "echo-on-answer %zu\n", len);
	} else if (strncmp(mode, "prompts:", 8) == 0) {
		n = atoi(mode + 8);
		for (i = 0; i < n && i < P23_PROMPTS_MAX && r == PAM_SUCCESS;
		    i++) {
			asked++;
			r = ask(conv, PAM_PROMPT_ECHO_OFF, 1, &answered, NULL);
		}
	} else if (strncmp(mode, "batch:", 6) == 0) {
		n = atoi(mode + 6);
		if (n < 1 || n > P23_PROMPTS_MAX)
			n = 1;
		asked = n;
		r = ask(conv, PAM_PROMPT_ECHO_OFF, n, &answered, NULL);
	} else if (strcmp(mode, "notes") == 0) {
		struct pam_message m[2] = {
			{ PAM_TEXT_INFO, "p23 info \033[31mred\001" },
			{ PAM_ERROR_MSG, "p23 error note" },
		};
		const struct pam_message *mp[2] = { &m[0], &m[1] };
		struct pam_response *resp = NULL;

		r = conv->conv(2, mp, &resp, conv->appdata_ptr);
		if (resp != NULL) {
			free(resp[0].resp);
			free(resp[1].resp);
			free(resp);
		}
	}
	fprintf(f, "asked %d\nanswered %d\n", asked, answered);
	if (r != PAM_SUCCESS)
		fprintf(f, "conv-error %d\n", r);
	fclose(f);
	return r == PAM_SUCCESS && answered == asked ? PAM_SUCCESS :
	    PAM_AUTH_ERR;
}

int
pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	(void)pamh;
	(void)flags;
	(void)argc;
	(void)argv;
	return PAM_SUCCESS;
}
