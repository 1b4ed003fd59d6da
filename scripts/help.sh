# Sourced first by the shell scripts here, before they install, build or change directory:
# with -h or --help as the first argument it prints the calling script's header comment (its
# usage: the comment lines after #!) and exits 0, so help never costs a build.
case "${1:-}" in
-h | --help)
    awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"
    exit 0
    ;;
esac
