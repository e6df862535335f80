"""Run workflows as users do: real `act` for GitHub, real `gitlab-ci-local` for GitLab."""
