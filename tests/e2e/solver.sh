# solver.sh - the als and ials row solvers: exact and conjugate gradient,
# Hu-Koren-Volinsky and Rendle et al.'s iALS.  Each model's last user
# half-step is checked against the normal equations written independently
# in Python (tests/tools/als_check.py: float64 elimination); every solver
# gives the same bytes at 1 and 2 threads; bad values are refused.
. "$TOP/tests/e2e/lib.sh"

csv2bin < "$DATA/ratings.csv" | encode-ids | split --test test.bin --ratio 0.2 --seed 42 > train.bin
# check MODEL TOL, as a script: t_true runs its command in sh -c.
cat > check <<EOF
python3 "$TOP/tests/tools/cfdump.py" --json < "\$1" > "\$1.json" &&
python3 "$TOP/tests/tools/als_check.py" "\$1.json" "\$2"
EOF
chmod +x check

n=0
while IFS='|' read -r name flags; do
	n=$((n + 1))
	t_run "$name trains" 0 "mf-fit -q -k 4 --epochs 2 --threads 2 $flags < train.bin > m$n.bin"
	# CG with more steps than unknowns (k + 1 = 5) reaches the exact solve;
	# and CG training ends with an exact user step.
	t_true "$name: users solve their normal equations (1e-4)" "./check m$n.bin 1e-4"
	t_true "$name: same bytes at 1 thread" \
		"mf-fit -q -k 4 --epochs 2 --threads 1 $flags < train.bin > m${n}t1.bin && cmp m$n.bin m${n}t1.bin"
done <<'EOF'
als exact|--algo als --solver exact
als cg|--algo als --solver cg --cg-steps 20
ials exact|--algo ials --solver exact --alpha0 1 --nu 0
ials cg|--algo ials --solver cg --cg-steps 20 --alpha0 1 --nu 0
ials-rendle|--algo ials --solver exact --alpha0 0.05 --nu 1 --alpha 0 --reg 0.01
ials-rendle cg|--algo ials --solver cg --cg-steps 20 --alpha0 0.1 --nu 0.5 --alpha 0.2 --reg 0.05
EOF

# CG training ends with an exact user step, so its CG solves show in the
# item factors: with more steps than unknowns they are the exact run's
# (m1, m3: exact als, ials), with 2 steps they are not (the check can fail).
for a in als ials; do
	[ $a = als ] && ex=m1 || ex=m3
	t_run "$a cg 20 steps trains" 0 "mf-fit -q --algo $a -k 4 --epochs 2 --solver cg --cg-steps 20 < train.bin > c20$a.bin"
	t_true "$a cg 20 steps: the exact run's items (1e-3)" \
		"./check c20$a.bin 1e-4 && python3 '$TOP/tests/tools/als_check.py' --items $ex.bin.json c20$a.bin.json 1e-3"
	t_run "$a cg 2 steps trains" 0 "mf-fit -q --algo $a -k 4 --epochs 2 --solver cg --cg-steps 2 < train.bin > c2$a.bin"
	t_true "$a cg 2 steps: users exact, items not the exact run's" \
		"./check c2$a.bin 1e-4 && ! python3 '$TOP/tests/tools/als_check.py' --items $ex.bin.json c2$a.bin.json 1e-3"
done
cp c2als.bin c2.bin
for a in als ials; do
	t_true "$a default k, cg: same bytes at 1 and 2 threads" \
		"mf-fit -q --algo $a --epochs 2 --solver cg --threads 1 < train.bin > d1.bin &&
		 mf-fit -q --algo $a --epochs 2 --solver cg --threads 2 < train.bin > d2.bin && cmp d1.bin d2.bin"
	t_true "$a default k, exact: same bytes at 1 and 2 threads" \
		"mf-fit -q --algo $a --epochs 2 --solver exact --threads 1 < train.bin > d1.bin &&
		 mf-fit -q --algo $a --epochs 2 --solver exact --threads 2 < train.bin > d2.bin && cmp d1.bin d2.bin"
done
t_true "the model records its solver" \
	"bin2csv --list < c2.bin | head -n 1 | grep 'solver=cg' | grep -q 'cg_steps=2'"
t_true "an ials model records alpha0 and nu" \
	"bin2csv --list < m5.bin | head -n 1 | grep 'alpha0=0.05' | grep -q 'nu=1'"

# Refused values: one line, exit 1 (or 2 for usage).
t_run "--alpha0 above 1" 1 "mf-fit --algo ials --alpha0 1.5 < train.bin"
t_err_line "--alpha0 above 1" mf-fit "alpha0"
t_run "--cg-steps 0" 1 "mf-fit --solver cg --cg-steps 0 < train.bin"
t_err_line "--cg-steps 0" mf-fit "cg-steps"
t_run "--solver unknown" 2 "mf-fit --solver lu < train.bin"
t_run "--nu for als" 1 "mf-fit --algo als --nu 1 < train.bin"
t_err_line "--nu for als" mf-fit "ials"
t_run "--solver for sgd" 1 "mf-fit --algo sgd --solver cg < train.bin"
t_err_line "--solver for sgd" mf-fit "als and ials"
