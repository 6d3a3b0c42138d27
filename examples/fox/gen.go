//go:build ignore

// gen writes the fox example dataset: short stories in one fixed style
// about Pip the fox (text format), and short questions with one-sentence
// answers (prompt/completion format), in the simple English the
// stories260K model knows. Every sentence is written here; the script only
// combines them, with a fixed seed, so the files are reproducible:
//
//	go run gen.go
package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
)

var (
	home = []string{
		"Pip lived in a small den by the river.",
		"Pip lived with his mom in a warm den under a big tree.",
		"Pip had a soft orange tail and lived in a den by the river.",
	}
	likes = []string{
		"run in the tall grass", "look at the stars", "dig in the sand",
		"play with his friend the bird", "eat red berries", "splash in the river",
		"chase butterflies", "sing songs with the frogs",
	}
	found = []string{
		"found a shiny stone", "saw a little lost duck", "heard a loud noise in the woods",
		"found a big red apple", "saw a rainbow over the hill", "met a sad bunny",
		"found a box by the river",
	}
	middle = []string{
		"He was very curious.", "He wanted to help.",
		"He did not know what to do, so he ran to ask his mom.", "He looked at it for a long time.",
	}
	ending = []string{
		"Pip and his new friend played all day.", "Pip shared it with his friends.",
		"His mom smiled and gave him a big hug.", "Pip learned that being kind is good.",
	}
	last = []string{"Pip was very happy. The end.", "That night, Pip slept with a big smile. The end."}
)

func story(r *rand.Rand) string {
	pick := func(s []string) string { return s[r.IntN(len(s))] }
	return strings.Join([]string{
		"Once upon a time, there was a little fox named Pip.",
		pick(home),
		"Pip loved to " + pick(likes) + ".",
		"One day, Pip " + pick(found) + ".",
		pick(middle), pick(ending), pick(last),
	}, " ")
}

// qa pairs: questions in a few wordings, each answered with one sentence
// in a fixed form.
func qa() [][2]string {
	var out [][2]string
	colors := [][2]string{{"sky", "blue"}, {"grass", "green"}, {"sun", "yellow"}, {"snow", "white"},
		{"apple", "red"}, {"banana", "yellow"}, {"night", "black"}, {"carrot", "orange"},
		{"frog", "green"}, {"cloud", "white"}, {"fox", "orange"}, {"milk", "white"}}
	for _, c := range colors {
		for _, q := range []string{"What color is the %s?", "Can you tell me the color of the %s?", "The %s is what color?"} {
			out = append(out, [2]string{fmt.Sprintf(q, c[0]), fmt.Sprintf("The %s is %s.", c[0], c[1])})
		}
	}
	sizes := [][2]string{{"cat", "small"}, {"elephant", "big"}, {"mouse", "small"}, {"horse", "big"},
		{"bird", "small"}, {"bear", "big"}, {"ant", "small"}, {"whale", "big"}, {"bug", "small"},
		{"tree", "big"}, {"duck", "small"}, {"truck", "big"}}
	for _, s := range sizes {
		a := "a " + s[0]
		if strings.ContainsRune("aeiou", rune(s[0][0])) {
			a = "an " + s[0]
		}
		for _, q := range []string{"Is %s big or small?", "Is the %s big?", "How big is %s?"} {
			noun := a
			if strings.HasPrefix(q, "Is the") {
				noun = s[0]
			}
			out = append(out, [2]string{fmt.Sprintf(q, noun), fmt.Sprintf("%s is %s.", strings.ToUpper(a[:1])+a[1:], s[1])})
		}
	}
	sounds := [][2]string{{"dog", "woof"}, {"cat", "meow"}, {"cow", "moo"}, {"duck", "quack"},
		{"bird", "tweet"}, {"sheep", "baa"}, {"frog", "ribbit"}, {"lion", "roar"}}
	for _, s := range sounds {
		for _, q := range []string{"What does a %s say?", "What sound does the %s make?"} {
			out = append(out, [2]string{fmt.Sprintf(q, s[0]), fmt.Sprintf("The %s says %s.", s[0], s[1])})
		}
	}
	pip := [][2]string{
		{"Who is Pip?", "Pip is a little fox."},
		{"Where does Pip live?", "Pip lives in a small den by the river."},
		{"What color is Pip's tail?", "Pip has a soft orange tail."},
		{"What does Pip like to eat?", "Pip likes to eat red berries."},
		{"Who is Pip's friend?", "Pip's friend is a little bird."},
	}
	return append(out, pip...)
}

func write(name string, lines []any) {
	var b strings.Builder
	for _, l := range lines {
		j, err := json.Marshal(l)
		if err != nil {
			panic(err)
		}
		b.Write(j)
		b.WriteByte('\n')
	}
	if err := os.WriteFile(name, []byte(b.String()), 0o644); err != nil {
		panic(err)
	}
}

func main() {
	r := rand.New(rand.NewPCG(2026, 11))
	seen := map[string]bool{}
	var stories []any
	for len(stories) < 330 {
		s := story(r)
		if !seen[s] {
			seen[s] = true
			stories = append(stories, map[string]string{"text": s})
		}
	}
	write("stories_train.jsonl", stories[:300])
	write("stories_valid.jsonl", stories[300:])

	pairs := qa()
	r.Shuffle(len(pairs), func(i, j int) { pairs[i], pairs[j] = pairs[j], pairs[i] })
	var qas []any
	for _, p := range pairs {
		qas = append(qas, map[string]string{"prompt": "Q: " + p[0] + "\nA:", "completion": " " + p[1]})
	}
	nv := len(qas) / 10
	write("qa_train.jsonl", qas[nv:])
	write("qa_valid.jsonl", qas[:nv])
}
