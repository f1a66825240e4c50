"""Idioms: requests that need more than one command, or a flag a small model
tends to miss, with the line that does them.

They are shown to the model on every request (in the prompt's cached
prefix, so they cost no time per request) and retrieved like the commands'
own examples. Each one is run by the tests, as the commands' examples are.
Written for nlsh; none is taken from an evaluation set.
"""

from __future__ import annotations

from nlsh.registry import Example

LOG = {"app.log": "error: disk full\nok\ndebug error retry\nerror: disk full, error again\n"}

IDIOMS: tuple[Example, ...] = (
    Example("the .jpg and .png files under photos",
            "find photos -type f \\( -name '*.jpg' -o -name '*.png' \\)",
            "photos/a.jpg\nphotos/b.png\nphotos/d/e.png",
            {"photos/a.jpg": "", "photos/b.png": "", "photos/c.gif": "", "photos/d/e.png": ""}),
    Example("how many times does the word error appear in app.log", "grep -o error app.log | wc -l", "4", LOG),
    Example("how many lines of app.log mention error", "grep -c error app.log", "3", LOG),
    Example("lines of app.log with error but not debug", "grep error app.log | grep -v debug",
            "error: disk full\nerror: disk full, error again", LOG),
    Example("which files under src mention deprecated", "grep -r -l deprecated src", "src/old.py",
            {"src/old.py": "# deprecated\n", "src/new.py": "ok\n"}),
    Example("change every http: to https: in links.txt", "sed -i 's/http:/https:/g' links.txt",
            "https://a\nhttps://b", {"links.txt": "http://a\nhttp://b\n"}, check="cat links.txt"),
    Example("delete the empty lines from todo.txt", "sed -i '/^$/d' todo.txt", "milk\neggs",
            {"todo.txt": "milk\n\neggs\n\n"}, check="cat todo.txt"),
    Example("show lines 2 to 3 of poem.txt", "sed -n 2,3p poem.txt", "two\nthree",
            {"poem.txt": "one\ntwo\nthree\nfour\n"}),
    Example("everything in data.csv except the header line", "tail -n +2 data.csv", "1,2\n3,4",
            {"data.csv": "a,b\n1,2\n3,4\n"}),
    Example("everything in notes.txt but the last line", "head -n -1 notes.txt", "a\nb",
            {"notes.txt": "a\nb\nc\n"}),
    Example("the text 'Hello World' in lower case", "echo 'Hello World' | tr A-Z a-z", "hello world"),
    Example("how many characters are in the word nlsh", "echo -n nlsh | wc -c", "4"),
    Example("give every .sh file under bin execute permission", "find bin -name '*.sh' -exec chmod +x {} +",
            "bin/a.sh\nbin/x/b.sh", {"bin/a.sh": "", "bin/x/b.sh": "", "bin/c.txt": ""},
            check="find bin -type f -perm -u+x"),
    Example("the first word of every line in people.txt", "awk '{print $1}' people.txt", "ada\nalan",
            {"people.txt": "ada lovelace\nalan turing\n"}),
    Example("add up the numbers in the second column of sales.csv",
            "awk -F, '{s += $2} END {print s}' sales.csv", "42", {"sales.csv": "pens,30\ninks,12\n"}),
    Example("the 2 most common lines in visits.log", "sort visits.log | uniq -c | sort -r -n | head -n 2",
            "      3 home\n      2 blog", {"visits.log": "home\nblog\nhome\nshop\nblog\nhome\n"}),
    Example("the distinct values in the first column of data.csv", "cut -d , -f 1 data.csv | sort -u",
            "fr\nuk", {"data.csv": "uk,1\nfr,2\nuk,3\n"}),
    Example("lines that are in both a.txt and b.txt", "grep -F -x -f b.txt a.txt", "pear",
            {"a.txt": "apple\npear\n", "b.txt": "pear\nplum\n"}),
    Example("files under src changed in the last hour", "find src -type f -mmin -60", "src/new.py",
            {"src/new.py": ""}),
    Example("files under backups older than 30 days", "find backups -type f -mtime +30", "",
            {"backups/today.tar": ""}),
    Example("pack the docs folder into docs.tar.gz", "tar -czf docs.tar.gz docs", "docs/\ndocs/a.md",
            {"docs/a.md": "# a\n"}, check="tar -tzf docs.tar.gz"),
    Example("search the compressed file app.log.gz for timeout", "zcat app.log.gz | grep timeout"),
    Example("copy the config folder into backup", "cp -r config backup/", "backup:\nconfig\n\nbackup/config:\na.ini",
            {"config/a.ini": "", "backup/.keep": ""}, check="ls -R backup"),
    Example("make the folders a, b and c inside project", "mkdir -p project/a project/b project/c",
            "a\nb\nc", check="ls project"),
)
