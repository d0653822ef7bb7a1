#!/bin/sh
# tools/help2man-wrap.sh PROGRAM NAME DIR - writes DIR/NAME, a wrapper of
# PROGRAM for help2man (the Makefile's man pages): its --help with the
# usage line as help2man reads a synopsis ("Usage: NAME ...", the
# indented lines that continue it joined to it); anything else runs
# PROGRAM as it is.  NAME is the command's installed name (cf-split for
# split), which the page is then called by.
set -eu
prog=$1 name=$2 dir=$3
mkdir -p "$dir"
cat > "$dir/$name.tmp" <<WRAP
#!/bin/sh
case \${1-} in
--help) '$prog' --help | sed -e '1{' -e ':a' -e 'N' -e 's/\n  *\([^ ]\)/ \1/' -e 'ta' \
	-e 's/^usage: [^ ]*/Usage: $name/' -e '}' ;;
*) exec '$prog' "\$@" ;;
esac
WRAP
chmod +x "$dir/$name.tmp"
mv "$dir/$name.tmp" "$dir/$name"
