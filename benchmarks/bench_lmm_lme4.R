# lme4's side of benchmarks/bench_lmm.py: median wall time per lmer fit on the same data files.
#   Rscript benchmarks/bench_lmm_lme4.R sleepstudy 101
#   Rscript benchmarks/bench_lmm_lme4.R insteval 3
suppressMessages(library(lme4))
args <- commandArgs(trailingOnly = TRUE)
name <- if (length(args) >= 1) args[[1]] else "sleepstudy"
repeats <- if (length(args) >= 2) as.integer(args[[2]]) else 11L
data_dir <- file.path("bayesmixed", "datasets", "data")
cases <- list(
  sleepstudy = list(file = "sleepstudy.csv", factors = "Subject",
                    formula = Reaction ~ Days + (Days | Subject)),
  insteval = list(file = "insteval.csv.gz", factors = c("s", "d", "dept", "service", "studage", "lectage"),
                  formula = y ~ 1 + service + (1 | s) + (1 | d) + (1 | dept))
)
case <- cases[[name]]
data <- read.csv(file.path(data_dir, case$file))
for (f in case$factors) data[[f]] <- factor(data[[f]])
fit <- lmer(case$formula, data)  # warm-up
seconds <- replicate(repeats, system.time(lmer(case$formula, data))[["elapsed"]])
cat(sprintf("%s: lme4 %s median %.4f s (min %.4f, max %.4f, %d fits); REML criterion %.6f\n", name,
            packageVersion("lme4"), median(seconds), min(seconds), max(seconds), repeats, REMLcrit(fit)))
